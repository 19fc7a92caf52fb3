"""The authenticator-app factor (RFC 6238); the only module that imports pyotp."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import segno

from idp.authn.errors import CodeReplayed, InvalidCode
from idp.extensions import db
from idp.models import sealing
from idp.models.totp_credential import TotpCredential

STEP_SECONDS = 30
VALID_WINDOW = 1  # one step either side: clocks on phones drift


def seal(secret: str, *, app_secret: str) -> str:
    """Encrypt a TOTP secret for storage."""
    return sealing.seal(secret, app_secret=app_secret, purpose="totp")


def unseal(sealed: str, *, app_secret: str) -> str:
    """Decrypt a stored TOTP secret."""
    try:
        return sealing.unseal(sealed, app_secret=app_secret, purpose="totp")
    except sealing.Unsealable as exc:
        raise InvalidCode() from exc


def new_secret() -> str:
    """A fresh 160-bit base32 secret (RFC 4226 recommends at least 128 bits)."""
    return pyotp.random_base32(32)


def grouped(secret: str) -> str:
    """The key in groups of four for typing by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """otpauth:// URI with issuer and account name (Key Uri Format)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code, rendered here (no external service)."""
    return segno.make(uri, error="m").svg_inline(
        scale=5, title="QR code for your authenticator app"
    )


def verify_totp(secret: str, code: str, *, now: datetime, last_step: int) -> int:
    """The matching time step for `code`, or raise InvalidCode / CodeReplayed."""
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        raise InvalidCode()
    totp = pyotp.TOTP(secret)
    current = int(now.replace(tzinfo=UTC).timestamp()) // STEP_SECONDS
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        at = datetime.fromtimestamp(step * STEP_SECONDS, UTC)
        if pyotp.utils.strings_equal(totp.at(at), code):
            if step <= last_step:
                raise CodeReplayed()
            return step
    raise InvalidCode()


def verify_for_user(user_id: int, code: str, *, now: datetime, app_secret: str) -> TotpCredential:
    """Check a code against each of the user's apps; a step is accepted once, across workers."""
    replayed = False
    for credential in TotpCredential.of_user(user_id):
        secret = unseal(credential.secret_encrypted, app_secret=app_secret)
        try:
            step = verify_totp(secret, code, now=now, last_step=credential.last_step)
        except CodeReplayed:
            replayed = True
            continue
        except InvalidCode:
            continue
        # Compare-and-set in the database: two workers can't both accept the same step.
        if credential.spend_step(step, at=now):
            return credential
        replayed = True
    raise CodeReplayed() if replayed else InvalidCode()


def enroll(
    user_id: int, *, name: str, secret: str, code: str, now: datetime, app_secret: str
) -> TotpCredential:
    """Save a new app once the user proved it shows the right code."""
    step = verify_totp(secret, code, now=now, last_step=0)
    credential = TotpCredential(
        user_id=user_id,
        name=name.strip()[:80] or "Authenticator app",
        secret_encrypted=seal(secret, app_secret=app_secret),
        last_step=step,
        created_at=now,
        last_used_at=now,
    )
    db.session.add(credential)
    return credential
