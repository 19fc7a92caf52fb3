"""Failed attempts: per (account, source) delays for passwords, per account for codes, a cap.

An outsider must not be able to aim a lockout at someone: wrong passwords slow down only the
source that types them, and the account-wide cap (NIST SP 800-63B 5.2.2: at most 100
consecutive failures) still lets a browser trusted for the user, or a passkey, through.
One-time codes are guessed by someone who already has the password, so they count per
account, and the count only goes back to zero on a success.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from idp import audit, mail
from idp.authn.policy import Backoff, Throttled, throttled
from idp.extensions import db
from idp.models.hashing import sha256_hex
from idp.models.sign_in_failure import ANY_SOURCE, SignInFailure
from idp.models.user import User

# Codes: the sign-in page already ends a session after 5; then 30 s, 1 min, ... up to an hour.
CODES = Backoff(free=5, first=timedelta(seconds=30), ceiling=timedelta(hours=1), cap=100)
# The user hears of it at the first of these counts and when the cap is reached.
WARN_AT = 10


def _key(email: str) -> str:
    return sha256_hex("password:" + email.strip().lower())


@dataclass(frozen=True, slots=True)
class PasswordStreak:
    """Whether a password attempt is held back, and whether a success has a streak to end."""

    held: Throttled | None
    counted: bool


def password_throttled(
    email: str, source: str, *, backoff: Backoff, now: datetime, trusted: bool
) -> PasswordStreak:
    """How a password attempt for `email` from `source` is held back, if at all (one query).

    A browser trusted for the account skips both counters: an attacker has no such cookie,
    and one copied into another browser is not `trusted` (the caller asks the trust decision).
    """
    if trusted:
        return PasswordStreak(held=None, counted=True)  # not read: a success clears them anyway
    found = SignInFailure.of_sources(_key(email), (ANY_SOURCE, source[:64]))
    account, here = found.get(ANY_SOURCE), found.get(source[:64])
    if account is not None and account.count >= backoff.cap:
        return PasswordStreak(held=Throttled(timedelta(0), capped=True), counted=True)
    if here is None:
        return PasswordStreak(held=None, counted=account is not None)
    return PasswordStreak(held=throttled(here.count, here.last_at, backoff, now=now), counted=True)


def password_failed(
    email: str, source: str, user: User | None, *, backoff: Backoff, now: datetime
) -> None:
    """Count a wrong password (known account or not, alike); tell the owner at the marks."""
    key = _key(email)
    SignInFailure.add(key, source[:64], now)
    total = SignInFailure.add(key, ANY_SOURCE, now)
    # No commit here: the caller's audit event commits, one commit for a known email or not.
    if user is not None and total in (WARN_AT, backoff.cap):
        _warn(user, "password", total, capped=total >= backoff.cap)


def password_succeeded(email: str, source: str) -> None:
    """The right password ends the account's streak and this source's, not other sources'."""
    SignInFailure.clear(_key(email), sources=(ANY_SOURCE, source[:64]))


def password_reset(email: str) -> None:
    """A reset proved a factor: every counter of the account starts over."""
    SignInFailure.clear(_key(email))


def unlock(user: User) -> None:
    """An admin's unlock (or a reset) lifts every counter of the user."""
    SignInFailure.clear(_key(user.email))
    user.failed_logins, user.locked_until = 0, None
    user.mfa_failures, user.mfa_locked_until = 0, None


def capped(user: User, *, password_cap: int = 100) -> bool:
    """True if passwords or codes stopped being checked for this user (admins see "locked")."""
    account = SignInFailure.find(_key(user.email), ANY_SOURCE)
    return user.mfa_failures >= CODES.cap or (account is not None and account.count >= password_cap)


def codes_throttled(user: User, *, now: datetime) -> Throttled | None:
    """How the next one-time code of this user is held back, if at all."""
    if user.mfa_failures >= CODES.cap:
        return Throttled(timedelta(0), capped=True)
    if user.mfa_locked_until is not None and user.mfa_locked_until > now:
        return Throttled(user.mfa_locked_until - now)
    return None


def code_failed(user: User, *, now: datetime) -> None:
    """Count a wrong one-time code; the count never resets by itself, only on a success."""
    user.mfa_failures += 1
    user.mfa_locked_until = now + _wait(user.mfa_failures)
    total = user.mfa_failures
    if total >= CODES.cap:
        audit.record("second_factor.capped", user_id=user.id, commit=False, failures=total)
    if total in (WARN_AT, CODES.cap):
        _warn(user, "code", total, capped=total >= CODES.cap)
    # Now, not with the request: the count must outlive the failed request (its caller rolls
    # back the verification), or each guess would be free.
    db.session.commit()


def code_succeeded(user: User) -> None:
    """A verified factor (a key too) ends the streak."""
    # Written only if there is a streak: even an unchanged value makes the next statement's
    # autoflush walk the user (~0.2 ms a sign-in, for no UPDATE).
    if user.mfa_failures or user.mfa_locked_until is not None:
        user.mfa_failures, user.mfa_locked_until = 0, None


def _wait(failures: int) -> timedelta:
    if failures < CODES.free:
        return timedelta(0)
    return min(CODES.first * int(2 ** (failures - CODES.free)), CODES.ceiling)


def _warn(user: User, what: str, count: int, *, capped: bool) -> None:
    audit.record(
        "sign_in.failures_notified",
        user_id=user.id,
        commit=False,
        what=what,
        failures=count,
        capped=capped,
    )
    mail.send(user.email, "sign_in_failures", commit=False, what=what, count=count, capped=capped)
