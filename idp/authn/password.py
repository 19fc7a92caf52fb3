"""The password factor: argon2id hashing, verification, lockout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, Type
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
        try:
            return self.hasher.verify(stored_hash or self._dummy_hash, password) and bool(
                stored_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def authenticate(
        self, *, email: str, password: str, now: datetime, lockout: LockoutPolicy
    ) -> User:
        """Return the user whose password this is, or raise InvalidCredentials/AccountLocked."""
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
            db.session.commit()
            raise InvalidCredentials()
        user.failed_logins = 0
        user.locked_until = None
        if self.hasher.check_needs_rehash(user.password_hash or ""):
            # Parameters changed since this hash was made: upgrade transparently.
            user.password_hash = self.hash(password)
        db.session.commit()
        return user

    def set_password(self, user: User, password: str, *, now: datetime) -> None:
        """Store a new password hash (the caller has checked the password policy)."""
        user.password_hash = self.hash(password)
        user.password_changed_at = now


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
