"""A person who signs in."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Integer,
    String,
    Table,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from idp.clock import now
from idp.driver_statements import OneRowWrite
from idp.extensions import Model, db


def new_handle() -> str:
    """A random WebAuthn user handle (32 bytes, base64url)."""
    return secrets.token_urlsafe(32)


def new_subject() -> str:
    """A random, stable `sub`: never the row id (OIDC Core 2, privacy)."""
    return secrets.token_urlsafe(18)


class User(Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), unique=True, default=new_subject)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200), default="")
    given_name: Mapped[str] = mapped_column(String(100), default="")
    family_name: Mapped[str] = mapped_column(String(100), default="")
    locale: Mapped[str] = mapped_column(String(20), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Email codes as a second factor: on since this time (None = not enrolled).
    email_factor_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    email_factor_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_factor: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # WebAuthn user handle: random, never the row id or the email (WebAuthn 14.6.1).
    webauthn_handle: Mapped[str] = mapped_column(String(64), unique=True, default=new_handle)
    # Second-factor lock-out, separate from the password's.
    mfa_failures: Mapped[int] = mapped_column(Integer, default=0)
    mfa_locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The passkey offer after a code sign-in: "Don't ask again" (declined), "Not now" (snoozed).
    passkey_offer_declined_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    passkey_offer_snoozed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The browser's IANA time zone (e.g. America/New_York); None shows times in UTC.
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now, onupdate=now)

    @property
    def is_active(self) -> bool:
        """False once an admin disabled the account."""
        return self.disabled_at is None

    @classmethod
    def by_email(cls, email: str) -> User | None:
        """Find a user by email, case-insensitively."""
        return db.session.scalar(_BY_EMAIL, {"email": normalize_email(email)})

    @classmethod
    def by_subject(cls, subject: str) -> User | None:
        """Find a user by their `sub`."""
        return db.session.scalar(select(cls).where(cls.subject == subject))

    def note_last_factor(self, factor: str) -> None:
        """Remember the second factor used last (offered first next time)."""
        if self.last_factor == factor:
            return  # as the ORM would: an unchanged value writes nothing
        at = now()
        _LAST_FACTOR.run(db.session.connection(), {"user_id": self.id, "factor": factor, "at": at})
        # Written by key, not flushed: the loaded row learns its new values as committed.
        set_committed_value(self, "last_factor", factor)
        set_committed_value(self, "updated_at", at)


# Built once with bound parameters: building a statement and its cache key per sign-in cost
# about as much as running it.
_BY_EMAIL = select(User).where(func.lower(User.email) == bindparam("email"))
# Built once on the table: flushing the user for one column cost more than the UPDATE itself.
# Run by the driver (OneRowWrite): SQLAlchemy's execution cost more than psycopg's own work.
_users = cast("Table", User.__table__)
_LAST_FACTOR = OneRowWrite(
    update(_users)
    .where(_users.c.id == bindparam("user_id"))
    .values(last_factor=bindparam("factor"), updated_at=bindparam("at")),
    keys=("user_id", "factor", "at"),
)


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()
