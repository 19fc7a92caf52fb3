"""The user's second factors as a list they manage: rename, remove, never the last one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idp.extensions import db
from idp.models.recovery_code import RecoveryCode
from idp.models.totp_credential import TotpCredential
from idp.models.user import User
from idp.models.webauthn_credential import WebAuthnCredential


class LastFactor(Exception):
    """Removing this would leave the account without a second factor."""

    code = "last_factor"
    message = "This is your only way to confirm it's you. Add another way before removing it."


class UnknownFactor(Exception):
    """No such factor on this account."""

    code = "unknown_factor"
    message = "We couldn't find that sign-in method on your account."


@dataclass(frozen=True, slots=True)
class FactorRow:
    """One line of the account page's list."""

    kind: str  # totp | email_code | webauthn
    id: int
    name: str
    created_at: datetime | None
    last_used_at: datetime | None
    detail: str = ""


def factor_rows(user: User) -> list[FactorRow]:
    """Every enrolled second factor (recovery codes are shown separately)."""
    rows = [
        FactorRow("totp", c.id, c.name, c.created_at, c.last_used_at, "Authenticator app")
        for c in TotpCredential.of_user(user.id)
    ]
    for key in WebAuthnCredential.of_user(user.id):
        kind = (
            "Passkey (synced between your devices)"
            if key.backup_eligible
            else ("Security key (this device only)")
        )
        rows.append(FactorRow("webauthn", key.id, key.name, key.created_at, key.last_used_at, kind))
    if user.email_factor_at is not None:
        rows.append(
            FactorRow(
                "email_code",
                0,
                "Codes by email",
                user.email_factor_at,
                user.email_factor_used_at,
                user.email,
            )
        )
    return rows


def rename(user: User, kind: str, factor_id: int, name: str) -> FactorRow:
    """Give a factor a name the user recognises."""
    name = name.strip()[:80]
    credential: TotpCredential | WebAuthnCredential | None = None
    if kind == "totp":
        credential = db.session.get(TotpCredential, factor_id)
    elif kind == "webauthn":
        credential = db.session.get(WebAuthnCredential, factor_id)
    if not name or credential is None or credential.user_id != user.id:
        raise UnknownFactor()
    credential.name = name
    db.session.commit()
    return next(r for r in factor_rows(user) if r.kind == kind and r.id == factor_id)


def remove(user: User, kind: str, factor_id: int) -> FactorRow:
    """Remove a factor unless it is the last one; returns what was removed."""
    rows = factor_rows(user)
    row = next((r for r in rows if r.kind == kind and r.id == factor_id), None)
    if row is None:
        raise UnknownFactor()
    if len(rows) <= 1:
        raise LastFactor()
    if kind == "totp":
        db.session.delete(db.session.get(TotpCredential, factor_id))
    elif kind == "webauthn":
        db.session.delete(db.session.get(WebAuthnCredential, factor_id))
    elif kind == "email_code":
        user.email_factor_at = None
        user.email_factor_used_at = None
    if user.last_factor == kind:
        user.last_factor = None
    db.session.commit()
    return row


def recovery_codes_left(user: User) -> int:
    """Unused recovery codes."""
    return RecoveryCode.remaining(user.id)
