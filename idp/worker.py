"""`idp worker`: delivers the outbox table's queued mail and back-channel logout tokens
(idp/oidc/backchannel.py), retrying with exponential backoff. "Forgot password" requests
become mail here first (idp.authn.password_reset.handle_request)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from idp.authn import password_reset
from idp.clock import now
from idp.config import Settings
from idp.extensions import db
from idp.mail import deliver
from idp.models.mail_message import FAILED, QUEUED, SENT, MailMessage
from idp.models.password_reset_request import PasswordResetRequest
from idp.oidc import backchannel
from idp.oidc.keys import KeyStore

log = logging.getLogger(__name__)
BATCH = 5
# Far longer than a batch can take (5 messages, each SMTP step timing out after 10 s), so a slow
# relay never lets a second worker take a message the first is still sending; a worker that dies
# mid-batch leaves its messages to be tried again after this.
LEASE = timedelta(minutes=10)
MAX_DELAY = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class Drained:
    """What one drain did: messages sent, rescheduled after a failure, and given up on."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0


def drain(settings: Settings, *, stop: threading.Event | None = None) -> Drained:
    """Deliver every message due now, a batch at a time, until none is due (or `stop` is set);
    the reset requests due first, so the links they mail go out in the same drain."""
    handle_reset_requests(settings, stop=stop)
    outcomes = {SENT: 0, QUEUED: 0, FAILED: 0}
    for message, claim in MailMessage.each_due(lease=LEASE, limit=BATCH, stop=stop):
        outcomes[_attempt(settings, message, claim)] += 1
    return Drained(sent=outcomes[SENT], retrying=outcomes[QUEUED], failed=outcomes[FAILED])


def handle_reset_requests(settings: Settings, *, stop: threading.Event | None = None) -> int:
    """Turn every "forgot password" request due now into its mail (or nothing, for an address
    of no active account); returns how many were handled. A failure is retried later."""
    handled = 0
    for asked, claim in PasswordResetRequest.each_due(lease=LEASE, limit=BATCH, stop=stop):
        _handle(settings, asked, claim)
        handled += 1
    return handled


def _handle(settings: Settings, asked: PasswordResetRequest, claim: str) -> None:
    values: dict[str, Any]
    try:
        password_reset.handle_request(asked, settings=settings)
    except Exception as exc:  # one bad request must not stop the queue
        db.session.rollback()
        error = f"{type(exc).__name__}: {exc}"[:500]
        if asked.attempts >= settings.mail_max_attempts:
            log.error("reset request id=%s given up: %s", asked.id, error)
            values = {"status": FAILED, "email": "", "rid": None, "last_error": error}
        else:
            delay = retry_delay(settings, asked.attempts)
            log.warning("reset request id=%s failed, next in %s: %s", asked.id, delay, error)
            values = {"next_attempt_at": now() + delay, "last_error": error}
    else:
        # Handled: what was typed goes, in the same commit as the mail it made (or not).
        values = {"status": SENT, "sent_at": now(), "email": "", "rid": None, "last_error": None}
    PasswordResetRequest.settle(asked.id, claim, values)


def run(
    settings: Settings, *, interval: float, stop: threading.Event, keys: KeyStore | None = None
) -> None:
    """Drain, wait `interval` seconds, again, until `stop` is set; survives a database outage.

    With `keys`, logout tokens owed to relying parties go out in the same loop.
    """
    while not stop.is_set():
        try:
            drain(settings, stop=stop)
            if keys is not None:
                backchannel.drain(settings, keys, stop=stop)
        except SQLAlchemyError:
            log.exception("mail worker: database error; trying again in %s s", interval)
            db.session.rollback()
        stop.wait(interval)


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """How long after its `attempts`-th failure a message is tried again: doubling, capped."""
    return min(
        timedelta(seconds=settings.mail_retry_seconds * 2 ** min(attempts - 1, 20)), MAX_DELAY
    )


def _attempt(settings: Settings, message: MailMessage, claim: str) -> str:
    values: dict[str, Any]
    try:
        deliver(settings, message.raw)
    except Exception as exc:  # one bad message (or relay) must not stop the queue
        error = f"{type(exc.__cause__ or exc).__name__}: {exc.__cause__ or exc}"[:500]
        if message.attempts >= settings.mail_max_attempts:
            log.error(
                "mail id=%s to=%s given up after %s attempts: %s",
                message.id,
                message.recipient,
                message.attempts,
                error,
            )
            values = {"status": FAILED, "raw": "", "last_error": error}
        else:
            delay = retry_delay(settings, message.attempts)
            log.warning(
                "mail id=%s attempt %s failed, next in %s: %s",
                message.id,
                message.attempts,
                delay,
                error,
            )
            values = {"next_attempt_at": now() + delay, "last_error": error}
    else:
        values = {"status": SENT, "sent_at": now(), "raw": "", "last_error": None}
    return MailMessage.settle(message.id, claim, values)
