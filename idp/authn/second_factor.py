"""Verifying a second factor: the one component every page that asks for one uses.

Sign-in, password reset and the account's step-up all come here, so lockout, audit, the
"recovery code used" mail and what counts as strong are the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l

from idp import audit, mail
from idp.authn import attempts, email_code, recovery_code, totp
from idp.authn.errors import CodeExpired, FactorError, SecondFactorLocked
from idp.authn.factors import Factor
from idp.authn.state import VerifiedFactor
from idp.authn.webauthn import Asserted
from idp.extensions import db
from idp.models.user import User

# Second factors answered by typing a code (WebAuthn answers with a signature instead).
TYPED_FACTORS = (Factor.TOTP, Factor.EMAIL_CODE, Factor.RECOVERY_CODE)


class Purpose(StrEnum):
    """Why a factor is asked for; audited with every attempt."""

    SIGN_IN = "sign_in"
    PASSWORD_RESET = "password_reset"
    STEP_UP = "step_up"


class NotAcceptedHere(FactorError):
    """A method this page does not accept (an email code on the reset page)."""

    code = "method_not_accepted"
    message = _l("This way of confirming can't be used here. Please choose another one.")


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who is verifying what, for which purpose, and since when the browser session runs."""

    user: User
    purpose: Purpose
    # Recovery codes issued at or after this moment were minted in this session: not strong.
    session_started_at: datetime | None = None
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class Verified:
    """A factor verified now, plus what the caller must tell the user."""

    factor: VerifiedFactor
    recovery_codes_left: int | None = None


def verify(
    attempt: Attempt,
    method: Factor,
    code: str,
    *,
    accepted: tuple[Factor, ...],
    now: datetime,
    app_secret: str,
) -> Verified:
    """Check one typed code; wrong codes count towards a temporary per-user lock."""
    user = attempt.user
    if method not in accepted or method not in TYPED_FACTORS:
        raise NotAcceptedHere()
    held = attempts.codes_throttled(user, now=now)
    if held is not None:
        _audit(attempt, "second_factor.locked", method)
        raise SecondFactorLocked(held)
    left: int | None = None
    new = False
    try:
        if method is Factor.TOTP:
            totp.verify_for_user(user.id, code, now=now, app_secret=app_secret)
        elif method is Factor.EMAIL_CODE:
            email_code.verify_code(user, "signin", code, now=now, app_secret=app_secret)
            user.email_factor_used_at = now
        else:
            spent = recovery_code.use(user.id, code, now=now, app_secret=app_secret)
            left = spent.remaining
            started = attempt.session_started_at
            new = started is not None and spent.issued_at >= started
    except CodeExpired as exc:
        db.session.rollback()
        _audit(attempt, "second_factor.failed", method, reason=exc.code)
        raise  # not a guess: it doesn't count towards the lock
    except FactorError as exc:
        db.session.rollback()
        _audit(attempt, "second_factor.failed", method, commit=False, reason=exc.code)
        attempts.code_failed(user, now=now)
        raise
    verified = Verified(VerifiedFactor(factor=method, at=now, new=new), recovery_codes_left=left)
    _succeeded(attempt, verified)
    return verified


def asserted(attempt: Attempt, assertion: Asserted, *, now: datetime) -> Verified:
    """A WebAuthn assertion verified by authn/webauthn.py: record it like any other factor."""
    verified = Verified(
        VerifiedFactor(
            Factor.WEBAUTHN,
            at=now,
            user_verified=assertion.user_verified,
            backup_eligible=assertion.backup_eligible,
        )
    )
    _succeeded(attempt, verified, credential=assertion.credential.name)
    return verified


def _succeeded(attempt: Attempt, verified: Verified, **detail: str) -> None:
    user, method = attempt.user, verified.factor.factor
    attempts.code_succeeded(user)
    if method is not Factor.RECOVERY_CODE:
        user.note_last_factor(str(method))
    _audit(attempt, "second_factor.verified", method, commit=False, **detail)
    if verified.recovery_codes_left is not None:
        _audit(
            attempt,
            "recovery_code.used",
            method,
            commit=False,
            remaining=verified.recovery_codes_left,
        )
        mail.send(
            user.email, "recovery_code_used", commit=False, remaining=verified.recovery_codes_left
        )
    # No commit: the request commits once, with its audit events (idp.web.session.save_session).


def _audit(
    attempt: Attempt, event: str, method: Factor, *, commit: bool = True, **detail: object
) -> None:
    audit.record(
        event,
        user_id=attempt.user.id,
        client_id=attempt.client_id,
        factor=str(method),
        purpose=str(attempt.purpose),
        commit=commit,
        **detail,
    )
