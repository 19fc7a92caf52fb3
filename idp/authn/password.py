"""The password factor: argon2id hashing, verification, lockout."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import bcrypt
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from idp.extensions import db
from idp.models.user import User


class InvalidCredentials(Exception):
    """Unknown email or wrong password: deliberately indistinguishable."""

    code = "invalid_credentials"


class AccountLocked(Exception):
    """Too many wrong passwords; the lock lifts by itself."""

    code = "account_locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_failures: int = 10
    duration: timedelta = timedelta(minutes=15)


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
        """Constant-work verification; a missing hash verifies the dummy and fails."""
        if stored_hash and not stored_hash.startswith("$argon2"):
            return verify_imported(stored_hash, password)
        try:
            return self.hasher.verify(stored_hash or self._dummy_hash, password) and bool(
                stored_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True for an imported (bcrypt, PBKDF2, argon2i/d) hash or outdated argon2id parameters."""
        if not stored_hash.startswith("$argon2id$"):
            return True
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def authenticate(
        self, *, email: str, password: str, now: datetime, lockout: LockoutPolicy
    ) -> User:
        """Return the user whose password this is, or raise InvalidCredentials/AccountLocked.

        A failure leaves the raised failure count uncommitted: the caller commits it with its
        audit event, so a wrong password costs one commit for an existing account, as for an
        unknown one.
        """
        user = User.by_email(email)
        ok = self.check(user.password_hash if user else None, password)
        if user is None or not user.is_active:
            raise InvalidCredentials()
        if user.locked_until and user.locked_until > now:
            # Only someone who knows the password learns of the lock: no enumeration.
            if ok:
                raise AccountLocked(user.locked_until)
            raise InvalidCredentials()
        if not ok:
            user.failed_logins += 1
            if user.failed_logins >= lockout.max_failures:
                user.locked_until = now + lockout.duration
                user.failed_logins = 0
            raise InvalidCredentials()
        user.failed_logins = 0
        user.locked_until = None
        if self.needs_rehash(user.password_hash or ""):
            # Imported from another system, or parameters changed: upgrade transparently.
            user.password_hash = self.hash(password)
        db.session.commit()
        return user

    def set_password(self, user: User, password: str, *, now: datetime) -> None:
        """Store a new password hash (the caller has checked the password policy)."""
        user.password_hash = self.hash(password)
        user.password_changed_at = now


# Hashes imported from another system (`idp user import`) are verified as they are and replaced
# by argon2id at the next successful sign-in. Bounds keep a stored hash from making a sign-in
# arbitrarily slow.
MAX_PBKDF2_ITERATIONS = 5_000_000
MAX_BCRYPT_COST = 16
MAX_ARGON2_MEMORY_KIB = 1024 * 1024
MAX_ARGON2_TIME_COST = 50
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
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS or len(key) < 16:
        return None
    return iterations, salt, key


def hash_scheme(stored: str) -> str | None:
    """ "argon2", "bcrypt" or "pbkdf2_sha256" for a hash we can verify; None otherwise."""
    if stored.startswith(("$argon2id$", "$argon2i$", "$argon2d$")):
        try:
            params = extract_parameters(stored)
        except InvalidHashError:
            return None
        ok = (
            params.memory_cost <= MAX_ARGON2_MEMORY_KIB and params.time_cost <= MAX_ARGON2_TIME_COST
        )
        return "argon2" if ok else None
    if match := _BCRYPT.match(stored):
        return "bcrypt" if 4 <= int(match.group(1)) <= MAX_BCRYPT_COST else None
    return "pbkdf2_sha256" if _pbkdf2_parts(stored) else None


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


def after_password_change(user: User, *, now: datetime, keep_session: str | None = None) -> None:
    """Password changed or reset: end the user's other sessions and all trusted devices."""
    from sqlalchemy import delete

    from idp.authn.trusted_device import revoke_user
    from idp.models.session import SessionRecord

    statement = delete(SessionRecord).where(SessionRecord.user_id == user.id)
    if keep_session:
        statement = statement.where(SessionRecord.id_hash != keep_session)
    db.session.execute(statement)
    db.session.commit()
    revoke_user(user.id, at=now, reason="password_changed")
