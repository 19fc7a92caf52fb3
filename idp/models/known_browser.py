"""A browser (the `idp_device` cookie) a user has signed in from: new ones are announced."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import Model, db


class KnownBrowser(Model):
    __tablename__ = "known_browsers"
    __table_args__ = (UniqueConstraint("user_id", "device_hash", name="uq_known_browsers_device"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the device cookie, as for trusted devices.
    device_hash: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(String(100), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    first_seen_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    # The "This wasn't me" link of the new-device email: hashed, single use, expiring.
    notice_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    notice_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @classmethod
    def this_or_any(cls, user_id: int, device_hash: str) -> KnownBrowser | None:
        """In one query: the user's record of this browser if there is one, else any of
        theirs (the caller tells them apart by `device_hash`), else None (never signed in)."""
        return db.session.scalar(_THIS_OR_ANY, {"user_id": user_id, "device_hash": device_hash})

    @classmethod
    def add(cls, **values: Any) -> None:
        """Remember a browser (every column given); nothing in the request reads it back."""
        db.session.execute(_ADD, values)

    @classmethod
    def by_notice(cls, notice_hash: str) -> KnownBrowser | None:
        """The browser a "This wasn't me" link reports."""
        return db.session.scalar(select(cls).where(cls.notice_hash == notice_hash))


# Built once with bound parameters: building a statement and its cache key per sign-in cost
# about as much as running it.
_THIS_OR_ANY = (
    select(KnownBrowser)
    .where(KnownBrowser.user_id == bindparam("user_id"))
    .order_by((KnownBrowser.device_hash == bindparam("device_hash")).desc(), KnownBrowser.id)
    .limit(1)
)
# Built once on the table: an ORM object flushed per sign-in cost more than the INSERT itself.
_ADD = insert(cast("Table", KnownBrowser.__table__))
