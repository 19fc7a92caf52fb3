"""The user's second factors as a list they manage: rename, remove, never the last one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l

from idp import audit, mail
from idp.authn import recovery_code
from idp.authn.factors import Factor
from idp.database import commit_unless_in_request
from idp.errors import IdpError
from idp.extensions import db
from idp.models.recovery_code import RecoveryCode
from idp.models.totp_credential import TotpCredential
from idp.models.trusted_device import TrustedDevice
from idp.models.user import User
from idp.models.webauthn_credential import WebAuthnCredential


class LastFactor(IdpError):
    """Removing this would leave the account without a second factor."""

    code = "last_factor"
    message = _l("This is your only way to confirm it's you. Add another way before removing it.")


class UnknownFactor(IdpError):
    """No such factor on this account."""

    code = "unknown_factor"
    message = _l("We couldn't find that sign-in method on your account.")


@dataclass(frozen=True, slots=True)
class FactorRow:
    """One line of the account page's list."""

    kind: Factor  # TOTP, EMAIL_CODE or WEBAUTHN
    id: int
    name: str
    created_at: datetime | None
    last_used_at: datetime | None
    detail: str = ""


def factor_rows(user: User) -> list[FactorRow]:
    """Every enrolled second factor (recovery codes are shown separately)."""
    rows = [
        FactorRow(Factor.TOTP, c.id, c.name, c.created_at, c.last_used_at, "Authenticator app")
        for c in TotpCredential.of_user(user.id)
    ]
    for key in WebAuthnCredential.of_user(user.id):
        kind = (
            "Passkey (synced between your devices)"
            if key.backup_eligible
            else ("Security key (this device only)")
        )
        rows.append(
            FactorRow(Factor.WEBAUTHN, key.id, key.name, key.created_at, key.last_used_at, kind)
        )
    if user.email_factor_at is not None:
        rows.append(
            FactorRow(
                Factor.EMAIL_CODE,
                0,
                "Codes by email",
                user.email_factor_at,
                user.email_factor_used_at,
                user.email,
            )
        )
    return rows


def rename(user: User, kind: Factor, factor_id: int, name: str) -> FactorRow:
    """Give a factor a name the user recognises."""
    name = name.strip()[:80]
    credential: TotpCredential | WebAuthnCredential | None = None
    if kind is Factor.TOTP:
        credential = db.session.get(TotpCredential, factor_id)
    elif kind is Factor.WEBAUTHN:
        credential = db.session.get(WebAuthnCredential, factor_id)
    if not name:
        raise UnknownFactor()
    if credential is None or credential.user_id != user.id:
        raise UnknownFactor()
    credential.name = name
    audit.record("factor.renamed", user_id=user.id, commit=False, factor=str(kind))
    commit_unless_in_request()
    return next(r for r in factor_rows(user) if r.kind == kind and r.id == factor_id)


def remove(user: User, kind: Factor, factor_id: int, *, at: datetime) -> FactorRow:
    """Remove a factor unless it is the last one; returns what was removed."""
    rows = factor_rows(user)
    row = next((r for r in rows if r.kind == kind and r.id == factor_id), None)
    if row is None:
        raise UnknownFactor()
    if len(rows) <= 1:
        raise LastFactor()
    if kind is Factor.TOTP:
        db.session.delete(db.session.get(TotpCredential, factor_id))
    elif kind is Factor.WEBAUTHN:
        db.session.delete(db.session.get(WebAuthnCredential, factor_id))
    elif kind is Factor.EMAIL_CODE:
        user.email_factor_at = None
        user.email_factor_used_at = None
    if user.last_factor == kind:
        user.last_factor = None
    audit.record("factor.removed", user_id=user.id, commit=False, factor=str(kind), name=row.name)
    # DESIGN.md: trust ends early on the removal of a factor; the user hears of it.
    TrustedDevice.revoke_where(TrustedDevice.user_id == user.id, at=at, reason="factor_removed")
    mail.send(user.email, "factor_removed", commit=False, method_name=row.name)
    commit_unless_in_request()
    return row


def recovery_codes_left(user: User) -> int:
    """Unused recovery codes."""
    return RecoveryCode.remaining(user.id)


def enrolled(user: User, factor: Factor, name: str, *, at: datetime, app_secret: str) -> list[str]:
    """A factor was just set up: audit it, announce it by mail; the first brings recovery codes.

    Returns the new recovery codes to show once, or [] when the user already has some.
    """
    audit.record("factor.enrolled", user_id=user.id, commit=False, factor=str(factor), name=name)
    mail.send(user.email, "factor_added", commit=False, method_name=name)
    commit_unless_in_request()
    if RecoveryCode.remaining(user.id):
        return []
    codes = recovery_code.issue(user.id, now=at, app_secret=app_secret)
    audit.record("recovery_codes.issued", user_id=user.id)
    return codes
