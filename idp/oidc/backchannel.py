"""OpenID Connect Back-Channel Logout 1.0: sign logout tokens and POST them to clients.

`idp worker` drains the `logout_deliveries` table like the mail outbox: claim a batch under a
lease, POST each token, record the outcome; a failure is retried with doubling delays and
given up on after `logout_max_attempts`. Requests never wait for a relying party.
"""

from __future__ import annotations

import logging
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from joserfc import jwt

from idp.clock import epoch, now
from idp.config import Settings
from idp.errors import IdpError
from idp.models.client import Client
from idp.models.logout_delivery import FAILED, QUEUED, SENT, LogoutDelivery
from idp.oidc.keys import KeyStore

log = logging.getLogger(__name__)
BATCH = 10
# Section 2.4: the token's type, so it can never pass for an ID token (RFC 8725 3.11).
TOKEN_TYPE = "logout+jwt"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Short-lived: the RP checks it on arrival; a retry signs a fresh one.
TOKEN_TTL_SECONDS = 120
# Far longer than a batch of POSTs can take (each times out), as the mail worker's lease.
LEASE = timedelta(minutes=5)
MAX_DELAY = timedelta(hours=6)


class DeliveryFailed(IdpError):
    """The relying party did not answer 200 (or could not be reached)."""

    code = "logout_delivery_failed"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        # The relying party's HTTP status, kept for the delivery record (not ours to answer).
        self.rp_status = status


@dataclass(frozen=True, slots=True)
class Delivered:
    """What one drain did: tokens accepted, rescheduled after a failure, and given up on."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0


def logout_token(
    keys: KeyStore, *, issuer: str, client: Client, subject: str, sid: str, jti: str
) -> str:
    """A signed logout token (section 2.4): iss, aud, iat, exp, jti, events, sub, sid.

    Never a `nonce` (section 2.4 forbids it, so a logout token can't be replayed as an ID
    token); signed like the client's ID tokens, with our published keys.
    """
    alg = client.id_token_signed_response_alg
    if alg not in keys.supported_algs():
        alg = "RS256"
    key = keys.signing_key(alg)
    issued = epoch(now())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client.client_id,
        "iat": issued,
        "exp": issued + TOKEN_TTL_SECONDS,
        "jti": jti,
        "events": {EVENT: {}},
        "sub": subject,
    }
    if sid:
        claims["sid"] = sid
    header = {"alg": alg, "kid": key.kid, "typ": TOKEN_TYPE}
    return jwt.encode(header, claims, key)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Section 2.5 expects 200 from the registered URI itself; a redirect is a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post_token(uri: str, token: str, *, timeout: float) -> int:
    """POST `logout_token` form-encoded (section 2.5); the status, or DeliveryFailed."""
    if urlsplit(uri).scheme not in ("https", "http"):
        # Registration allows only these; a file: or ftp: URL must never be opened.
        raise DeliveryFailed("backchannel_logout_uri is not http(s)")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        uri,
        data=urlencode({"logout_token": token}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"HTTP {exc.code}", exc.code) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"{type(exc).__name__}: {reason}") from exc
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}", status)
    return status


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """How long after its `attempts`-th failure a delivery is tried again: doubling, capped."""
    return min(
        timedelta(seconds=settings.logout_retry_seconds * 2 ** min(attempts - 1, 20)), MAX_DELAY
    )


def drain(settings: Settings, keys: KeyStore, *, stop: threading.Event | None = None) -> Delivered:
    """Deliver every logout token due now, a batch at a time, until none is due."""
    outcomes = {SENT: 0, QUEUED: 0, FAILED: 0}
    for delivery, claim in LogoutDelivery.each_due(lease=LEASE, limit=BATCH, stop=stop):
        outcomes[_attempt(settings, keys, delivery, claim)] += 1
    return Delivered(sent=outcomes[SENT], retrying=outcomes[QUEUED], failed=outcomes[FAILED])


def _attempt(settings: Settings, keys: KeyStore, delivery: LogoutDelivery, claim: str) -> str:
    client = Client.by_client_id(delivery.client_id)
    jti = secrets.token_urlsafe(24)
    values: dict[str, Any] = {"jti": jti}
    try:
        if client is None or not client.backchannel_logout_uri:
            # Deleted, disabled, or no longer registered for back-channel logout: nobody to tell.
            values.update(status=FAILED, last_error="client gone or no backchannel_logout_uri")
        else:
            token = logout_token(
                keys,
                issuer=settings.issuer,
                client=client,
                subject=delivery.subject,
                sid=delivery.sid,
                jti=jti,
            )
            code = post_token(
                client.backchannel_logout_uri, token, timeout=settings.logout_timeout_seconds
            )
            values.update(status=SENT, sent_at=now(), last_status=code, last_error=None)
    except Exception as exc:  # one bad client must not stop the queue
        status = exc.rp_status if isinstance(exc, DeliveryFailed) else None
        error = f"{exc}"[:500] or type(exc).__name__
        values.update(last_status=status, last_error=error)
        if delivery.attempts >= settings.logout_max_attempts:
            log.error(
                "logout id=%s client=%s given up after %s attempts: %s",
                delivery.id,
                delivery.client_id,
                delivery.attempts,
                error,
            )
            values["status"] = FAILED
        else:
            delay = retry_delay(settings, delivery.attempts)
            log.warning(
                "logout id=%s client=%s attempt %s failed, next in %s: %s",
                delivery.id,
                delivery.client_id,
                delivery.attempts,
                delay,
                error,
            )
            values["next_attempt_at"] = now() + delay
    else:
        if values.get("status") == SENT:
            log.info("logout id=%s client=%s delivered", delivery.id, delivery.client_id)
    return LogoutDelivery.settle(delivery.id, claim, values)
