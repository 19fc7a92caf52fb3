"""Verifying a chosen second factor, with a temporary per-user lock-out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from idp.authn import email_code, recovery_code, totp
from idp.authn.errors import CodeExpired, FactorError, SecondFactorLocked
from idp.authn.factors import Factor
from idp.authn.state import VerifiedFactor
from idp.extensions import db
from idp.models.user import User

# Second factors answered by typing a code (WebAuthn answers with a signature instead).
TYPED_FACTORS = (Factor.TOTP, Factor.EMAIL_CODE, Factor.RECOVERY_CODE)
MAX_FAILURES = 10
LOCK_FOR = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Verified:
    """A factor verified now, plus what the caller must tell the user."""

    factor: VerifiedFactor
    recovery_codes_left: int | None = None


def verify(user: User, method: Factor, code: str, *, now: datetime, app_secret: str) -> Verified:
    """Check one code for a method; wrong codes count towards a temporary lock."""
    if user.mfa_locked_until and user.mfa_locked_until > now:
        raise SecondFactorLocked(user.mfa_locked_until)
    left: int | None = None
    try:
        if method is Factor.TOTP:
            totp.verify_for_user(user.id, code, now=now, app_secret=app_secret)
        elif method is Factor.EMAIL_CODE:
            email_code.verify_code(user, "signin", code, now=now, app_secret=app_secret)
            user.email_factor_used_at = now
        elif method is Factor.RECOVERY_CODE:
            left = recovery_code.use(user.id, code, now=now, app_secret=app_secret)
        else:
            raise FactorError(f"{method} is not verified with a typed code")
    except CodeExpired:
        db.session.rollback()
        raise  # not a guess: it doesn't count towards the lock
    except FactorError:
        db.session.rollback()
        user.mfa_failures += 1
        if user.mfa_failures >= MAX_FAILURES:
            user.mfa_locked_until = now + LOCK_FOR
            user.mfa_failures = 0
            db.session.commit()
            raise SecondFactorLocked(user.mfa_locked_until) from None
        db.session.commit()
        raise
    user.mfa_failures = 0
    user.mfa_locked_until = None
    if method is not Factor.RECOVERY_CODE:
        user.last_factor = str(method)
    db.session.commit()
    return Verified(VerifiedFactor(factor=method, at=now), recovery_codes_left=left)
