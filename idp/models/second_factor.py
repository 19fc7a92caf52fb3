"""Which kinds of second factor a user has stored, in one query (the sign-in policy's input)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select

from idp.extensions import db
from idp.models.recovery_code import RecoveryCode
from idp.models.totp_credential import TotpCredential
from idp.models.webauthn_credential import WebAuthnCredential


@dataclass(frozen=True, slots=True)
class StoredFactors:
    """True for each kind the user has at least one of (recovery codes: one unused)."""

    totp: bool
    webauthn: bool
    recovery_code: bool


def stored_factors(user_id: int) -> StoredFactors:
    """One SELECT of three EXISTS: the policy asks on every sign-in page."""
    row = db.session.execute(
        select(
            exists().where(TotpCredential.user_id == user_id),
            exists().where(WebAuthnCredential.user_id == user_id),
            exists().where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)),
        )
    ).one()
    return StoredFactors(totp=bool(row[0]), webauthn=bool(row[1]), recovery_code=bool(row[2]))
