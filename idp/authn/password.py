"""The password factor: argon2id hashing, verification, lockout."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime

import bcrypt
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import lazy_gettext as _l

from idp import audit, mail
from idp.authn import attempts
from idp.authn.password_policy import check_new_password
from idp.authn.policy import Backoff, Throttled
from idp.authn.sign_out import sign_out_everywhere
from idp.database import commit_unless_in_request
from idp.errors import IdpError
from idp.models.second_factor import user_by_email
from idp.models.user import User


class InvalidCredentials(IdpError):
    """Unknown email or wrong password: deliberately indistinguishable."""

    code = "invalid_credentials"


class SignInThrottled(IdpError):
    """Too many wrong passwords from here (wait), or for the account (capped): not checked."""

    code = "sign_in_throttled"

    def __init__(self, throttle: Throttled) -> None:
        super().__init__("capped" if throttle.capped else f"wait {throttle.retry_after}")
        self.status = 429
        self.throttle = throttle


class Passwords:
    """Hashes and checks passwords with the configured argon2id parameters."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified for unknown emails so both paths cost the same (no timing oracle).
        self._dummy_hash = self.hasher.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        """An argon2id hash of the password."""
        return self.hasher.hash(password)

    def check(self, stored_hash: str | None, password: str) -> bool:
        """Constant-work verification; a missing or over-cost hash verifies the dummy and fails."""
        if stored_hash and self._too_costly(stored_hash):
            # Computing it would let any wrong password tie up a worker for seconds.
            self.hasher.verify(self._dummy_hash, "not-a-real-password")
            return False
        if stored_hash and not stored_hash.startswith("$argon2"):
            return verify_imported(stored_hash, password)
        try:
            return self.hasher.verify(stored_hash or self._dummy_hash, password) and bool(
                stored_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _too_costly(self, stored_hash: str) -> bool:
        """Above the import limits, unless within our own argon2 parameters (may be higher)."""
        if cost_problem(stored_hash) is None:
            return False
        try:
            params = extract_parameters(stored_hash)
        except InvalidHashError:
            return True
        own = self.hasher
        return params.memory_cost > own.memory_cost or params.time_cost > own.time_cost

    def needs_rehash(self, stored_hash: str) -> bool:
        """True for an imported (bcrypt, PBKDF2, argon2i/d) hash or outdated argon2id parameters."""
        if not stored_hash.startswith("$argon2id$"):
            return True
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def authenticate(
        self,
        *,
        email: str,
        password: str,
        now: datetime,
        backoff: Backoff,
        source: str,
        trusted_browser: Callable[[User | None], bool] | None = None,
    ) -> User:
        """Return the user whose password this is, or raise InvalidCredentials/SignInThrottled.

        Counters are kept for the email typed, known or not, so throttling says nothing about
        who has an account; a throttled attempt is not checked, so it can't be a guess.
        `trusted_browser(user)` says whether this browser passes the trust decision for the
        account (device cookie, client, expiry, browser and OS): only then are the counters
        skipped, so a device cookie copied into another browser lifts nothing. It is asked with
        None for an unknown email too (and must then say False): the same lookups either way.
        """
        user = user_by_email(email)  # and the kinds of factor, for the policy asked next
        # Asked for an unknown email too: the same lookups whether or not the account exists.
        trusted = trusted_browser is not None and trusted_browser(user) and user is not None
        streak = attempts.password_throttled(
            email, source, backoff=backoff, now=now, trusted=trusted
        )
        if streak.held is not None:
            raise SignInThrottled(streak.held)
        ok = self.check(user.password_hash if user else None, password)
        if user is None or not user.is_active or not ok:
            attempts.password_failed(email, source, user, backoff=backoff, now=now)
            raise InvalidCredentials()
        if streak.counted:  # no streak, nothing to delete: no statement
            attempts.password_succeeded(email, source)
        if user.failed_logins or user.locked_until is not None:  # unchanged: nothing to flush
            user.failed_logins, user.locked_until = 0, None
        if self.needs_rehash(user.password_hash or ""):
            # Imported from another system, or parameters changed: upgrade transparently.
            user.password_hash = self.hash(password)
        # No commit: the request commits once, with its audit event (idp.web.session.save_session).
        return user

    def set_password(self, user: User, password: str, *, now: datetime) -> None:
        """Store a new password hash (the caller has checked the password policy)."""
        user.password_hash = self.hash(password)
        user.password_changed_at = now


# Hashes imported from another system (`idp user import`) are verified as they are and replaced
# by argon2id at the next successful sign-in. Every wrong password costs one check, so a hash
# dearer than these is refused at import and never computed: PBKDF2 at 5M iterations took
# 1-2.7 s per check, bcrypt cost 16 3.8 s. The limits admit what current frameworks produce
# (Django 6: PBKDF2 1.2M; bcrypt 10-13; argon2 RFC 9106's 64 MiB x 3 and OWASP's settings).
MAX_PBKDF2_ITERATIONS = 1_200_000
MAX_BCRYPT_COST = 13
MAX_ARGON2_MEMORY_KIB = 256 * 1024
MAX_ARGON2_TIME_COST = 10
MAX_ARGON2_WORK = 256 * 1024  # memory (KiB) x passes: 256 MiB once, or 64 MiB four times
_BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_DJANGO_PBKDF2 = re.compile(r"^pbkdf2_sha256\$(\d{1,8})\$([^$]{1,128})\$([A-Za-z0-9+/=]{16,128})$")
_PASSLIB_PBKDF2 = re.compile(
    r"^\$pbkdf2-sha256\$(\d{1,8})\$([./A-Za-z0-9]{0,172})\$([./A-Za-z0-9]{22,172})$"
)


def _ab64(text: str) -> bytes:
    """passlib's "adapted base64": '.' for '+', no padding."""
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _pbkdf2_parts(stored: str) -> tuple[int, bytes, bytes] | None:
    """(iterations, salt, derived key) of a Django or passlib PBKDF2-SHA256 hash."""
    try:
        if match := _DJANGO_PBKDF2.match(stored):
            salt, key = match.group(2).encode(), base64.b64decode(match.group(3), validate=True)
        elif match := _PASSLIB_PBKDF2.match(stored):
            salt, key = _ab64(match.group(2)), _ab64(match.group(3))
        else:
            return None
    except (binascii.Error, ValueError):
        return None
    iterations = int(match.group(1))
    if iterations < 1 or len(key) < 16:
        return None
    return iterations, salt, key


def _scheme(stored: str) -> str | None:
    """The scheme of a well-formed hash, whatever its cost."""
    if stored.startswith(("$argon2id$", "$argon2i$", "$argon2d$")):
        try:
            extract_parameters(stored)
        except InvalidHashError:
            return None
        return "argon2"
    if match := _BCRYPT.match(stored):
        return "bcrypt" if int(match.group(1)) >= 4 else None
    return "pbkdf2_sha256" if _pbkdf2_parts(stored) else None


def cost_problem(stored: str) -> str | None:
    """Why checking this hash would cost too much per sign-in attempt; None if it would not."""
    scheme = _scheme(stored)
    if scheme == "argon2":
        params = extract_parameters(stored)
        memory, passes = params.memory_cost, params.time_cost
        if memory > MAX_ARGON2_MEMORY_KIB:
            return f"argon2 memory {memory} KiB is above the limit of {MAX_ARGON2_MEMORY_KIB} KiB"
        if passes > MAX_ARGON2_TIME_COST:
            return f"argon2 time cost {passes} is above the limit of {MAX_ARGON2_TIME_COST}"
        if memory * passes > MAX_ARGON2_WORK:
            return (
                f"argon2 memory x time cost ({memory} KiB x {passes}) is above the limit of "
                f"{MAX_ARGON2_WORK} KiB"
            )
    if scheme == "bcrypt" and (cost := int(stored[4:6])) > MAX_BCRYPT_COST:
        return f"bcrypt cost {cost} is above the limit of {MAX_BCRYPT_COST}"
    if scheme == "pbkdf2_sha256":
        parts = _pbkdf2_parts(stored)
        if parts is not None and parts[0] > MAX_PBKDF2_ITERATIONS:
            return (
                f"PBKDF2 {parts[0]:,} iterations are above the limit of {MAX_PBKDF2_ITERATIONS:,}"
            )
    return None


def hash_scheme(stored: str) -> str | None:
    """ "argon2", "bcrypt" or "pbkdf2_sha256" for a hash we can verify at a sane cost; else None."""
    scheme = _scheme(stored)
    return scheme if scheme is not None and cost_problem(stored) is None else None


def verify_imported(stored: str, password: str) -> bool:
    """Check a password against a bcrypt or PBKDF2-SHA256 hash from another system."""
    scheme = hash_scheme(stored)
    if scheme == "bcrypt":
        try:
            # bcrypt only ever read the first 72 bytes; bcrypt>=5 refuses longer input instead.
            return bcrypt.checkpw(password.encode()[:72], stored.encode())
        except ValueError:
            return False
    if scheme == "pbkdf2_sha256":
        parts = _pbkdf2_parts(stored)
        assert parts is not None
        iterations, salt, key = parts
        derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, len(key))
        return hmac.compare_digest(derived, key)
    return False


def after_password_change(
    user: User, *, now: datetime, keep_session: str | None = None, reason: str = "password_changed"
) -> None:
    """Password changed or reset: end the user's other sessions, tokens and trusted devices."""
    # Whoever held the old password may hold sessions and tokens got with it (DESIGN.md).
    sign_out_everywhere(user.id, at=now, reason=reason, keep_session=keep_session)


class WrongCurrentPassword(IdpError):
    """The current password typed to change it is not the right one."""

    code = "wrong_current_password"
    message = _l("Your current password is not correct.")


def change(
    user: User,
    current: str,
    new: str,
    *,
    passwords: Passwords,
    now: datetime,
    keep_session: str | None,
) -> None:
    """The account page's password change: the current one first, the policy, then sign out
    everywhere else (DESIGN.md) and tell the user by mail."""
    if not passwords.check(user.password_hash, current):
        audit.record("password.change_failed", user_id=user.id, reason="wrong_current")
        raise WrongCurrentPassword()
    check_new_password(new, user_inputs=[user.email, user.name])
    passwords.set_password(user, new, now=now)
    audit.record("password.changed", user_id=user.id, commit=False)
    mail.send(user.email, "password_changed", commit=False)
    commit_unless_in_request()
    after_password_change(user, now=now, keep_session=keep_session)
