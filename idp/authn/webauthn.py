"""Security keys and passkeys (WebAuthn); the only module that imports py_webauthn."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp import untrusted_json
from idp.authn.errors import FactorError
from idp.database import changed_rows, commit_unless_in_request
from idp.extensions import db
from idp.models.user import User
from idp.models.webauthn_credential import WebAuthnCredential

TIMEOUT_MS = 300_000  # the challenge lives 5 minutes


class WebAuthnFailed(FactorError):
    """The browser's answer did not verify."""

    code = "webauthn_failed"
    message = _l("We couldn't confirm your security key or passkey. Please try again.")


class CredentialAlreadyRegistered(WebAuthnFailed):
    code = "credential_already_registered"
    message = _l("This security key or passkey is already registered.")


class ChallengeUsed(WebAuthnFailed):
    """The key was used since the challenge was issued: a replayed (or raced) assertion."""

    code = "challenge_used"


class PossibleClone(WebAuthnFailed):
    """The signature counter went backwards: two copies of one key may exist."""

    code = "possible_cloned_key"
    message = _l(
        "This security key could not be trusted. Please use another way and contact support."
    )


@dataclass(frozen=True, slots=True)
class Ceremony:
    """Options for the browser, and the challenge to keep server-side."""

    options_json: str
    challenge: str


@dataclass(frozen=True, slots=True)
class Asserted:
    """A verified assertion."""

    credential: WebAuthnCredential
    user_verified: bool
    backup_eligible: bool


def _descriptors(credentials: list[WebAuthnCredential]) -> list[PublicKeyCredentialDescriptor]:
    out = []
    for c in credentials:
        transports = []
        for t in c.transports or []:
            try:
                transports.append(AuthenticatorTransport(t))
            except ValueError:
                continue
        out.append(
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(c.credential_id), transports=transports or None
            )
        )
    return out


def registration_options(user: User, *, rp_id: str, rp_name: str) -> Ceremony:
    """Attestation none, UV and resident key preferred, the user's credentials excluded."""
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_name=user.email,
        user_id=base64url_to_bytes(user.webauthn_handle),
        user_display_name=user.name or user.email,
        challenge=secrets.token_bytes(32),
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(WebAuthnCredential.of_user(user.id)),
    )
    return Ceremony(options_to_json(options), bytes_to_base64url(options.challenge))


def authentication_options(user: User | None, *, rp_id: str) -> Ceremony:
    """allowCredentials from the user's keys; none (discoverable, UV required) for passkeys."""
    allow = _descriptors(WebAuthnCredential.of_user(user.id)) if user else []
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=secrets.token_bytes(32),
        timeout=TIMEOUT_MS,
        allow_credentials=allow,
        user_verification=(
            UserVerificationRequirement.PREFERRED if user else UserVerificationRequirement.REQUIRED
        ),
    )
    return Ceremony(options_to_json(options), bytes_to_base64url(options.challenge))


def _client_data(credential: dict[str, Any]) -> Any:
    try:
        raw = base64url_to_bytes(credential["response"]["clientDataJSON"])
        # py_webauthn parses it with json.loads: too deep would be a RecursionError there.
        untrusted_json.loads(raw)
        return parse_client_data_json(raw)
    except (KeyError, TypeError, ValueError, WebAuthnException) as exc:
        raise WebAuthnFailed() from exc


def register(
    user: User,
    credential: dict[str, Any],
    *,
    name: str,
    challenge: str,
    rp_id: str,
    origins: list[str],
    now: datetime,
) -> WebAuthnCredential:
    """Verify a new credential (origin, RP ID, challenge) and save it."""
    if _client_data(credential).cross_origin:
        raise WebAuthnFailed()
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origins,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        raise WebAuthnFailed() from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    if WebAuthnCredential.by_credential_id(credential_id) is not None:
        raise CredentialAlreadyRegistered()
    transports = credential.get("response", {}).get("transports") or []
    row = WebAuthnCredential(
        user_id=user.id,
        name=name.strip()[:80] or "Security key",
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[t for t in transports if isinstance(t, str)][:8],
        aaguid=str(verified.aaguid),
        backup_eligible=verified.credential_device_type == "multi_device",
        backed_up=verified.credential_backed_up,
        user_verified=verified.user_verified,
        created_at=now,
        last_used_at=now,
    )
    db.session.add(row)
    commit_unless_in_request()
    return row


def authenticate(
    credential: dict[str, Any],
    *,
    user: User | None,
    challenge: str,
    rp_id: str,
    origins: list[str],
    now: datetime,
    issued_at: datetime | None = None,
) -> Asserted:
    """Verify an assertion; with `user` None (passkey sign-in) the credential names the user.

    `issued_at` is given for a challenge kept outside the server (a signed cookie, which a
    client may send again): the key must not have been used since then.
    """
    if _client_data(credential).cross_origin:
        raise WebAuthnFailed()
    row = WebAuthnCredential.by_credential_id(str(credential.get("id", "")))
    if row is None or (user is not None and row.user_id != user.id):
        raise WebAuthnFailed()
    owner = db.session.get(User, row.user_id)
    handle = (credential.get("response") or {}).get("userHandle")
    if owner is None or (handle and handle != owner.webauthn_handle):
        raise WebAuthnFailed()
    if user is None and not handle:
        raise WebAuthnFailed()  # a discoverable credential must say whose it is
    try:
        # The counter is checked below, after the signature, so a forged response can't
        # raise a false "cloned key" alarm.
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origins,
            credential_public_key=row.public_key,
            credential_current_sign_count=0,
            require_user_verification=user is None,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        raise WebAuthnFailed() from exc
    if (verified.new_sign_count or row.sign_count) and verified.new_sign_count <= row.sign_count:
        raise PossibleClone()
    used_at = now if issued_at is None else _claim(row, issued_at=issued_at, now=now)
    row.sign_count = verified.new_sign_count
    row.backed_up = verified.credential_backed_up
    row.user_verified = verified.user_verified
    row.last_used_at = used_at
    commit_unless_in_request()
    return Asserted(row, verified.user_verified, row.backup_eligible)


def _claim(row: WebAuthnCredential, *, issued_at: datetime, now: datetime) -> datetime:
    """Single use of a challenge the server did not keep: in one UPDATE, check that the key
    was not used since the challenge was issued and move its last use past that moment.

    A replayed assertion (synced passkeys keep their sign counter at 0, so the counter cannot
    tell) finds the key used after its challenge; of two racing it, the row lock lets one win.
    """
    used = max(now, issued_at + timedelta(microseconds=1))
    column = WebAuthnCredential.last_used_at
    claimed = changed_rows(
        update(WebAuthnCredential)
        .where(WebAuthnCredential.id == row.id, or_(column.is_(None), column <= issued_at))
        .values(last_used_at=used)
        .execution_options(synchronize_session=False)
    )
    if claimed != 1:
        raise ChallengeUsed()
    return used


def parse_json(body: str | bytes) -> dict[str, Any]:
    """The browser's credential JSON, or WebAuthnFailed."""
    try:
        value = untrusted_json.loads(body)
    except ValueError as exc:
        raise WebAuthnFailed() from exc
    if not isinstance(value, dict):
        raise WebAuthnFailed()
    return value
