"""A browser (the `idp_device` cookie) a user has signed in from: new ones are announced."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Insert,
    Integer,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    case,
    exists,
    null,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from idp.driver_statements import OneRowWrite
from idp.extensions import Model, db
from idp.models.upsert import dialect_insert


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
    def seen(
        cls,
        *,
        user_id: int,
        device_hash: str,
        agent: str,
        ip: str,
        at: datetime,
        notice_hash: str,
        notice_expires_at: datetime,
    ) -> bool:
        """Note a sign-in from this browser; True if it is new to a user who signed in before.

        One statement, safe under concurrency: INSERT ... ON CONFLICT (user_id, device_hash)
        DO UPDATE (PostgreSQL and SQLite alike), instead of a SELECT and then an INSERT or an
        UPDATE. A browser known already gets its last sighting; a new one is inserted, with
        the given notice only when the user has another (the very first sign-in announces
        nothing). The notice's hash comes back only from the row this statement inserted.
        """
        row = _SEEN.returning(
            db.session.connection(),
            {
                "owner": user_id,
                "device": device_hash,
                "agent": agent,
                "ip": ip,
                "at": at,
                "notice": notice_hash,
                "notice_until": notice_expires_at,
            },
        )
        # DO UPDATE returns the row either way: inserted, or the one that was there.
        return row is not None and row[0] == notice_hash

    @classmethod
    def by_notice(cls, notice_hash: str) -> KnownBrowser | None:
        """The browser a "This wasn't me" link reports."""
        return db.session.scalar(select(cls).where(cls.notice_hash == notice_hash))


def _upsert(dialect: str) -> Insert:
    """On the table (no ORM bulk path)."""
    table = cast("Table", KnownBrowser.__table__)
    others = exists().where(table.c.user_id == bindparam("owner"))
    statement = dialect_insert(dialect, table).values(
        user_id=bindparam("owner"),
        device_hash=bindparam("device"),
        agent=bindparam("agent"),
        ip=bindparam("ip"),
        first_seen_at=bindparam("at"),
        last_seen_at=bindparam("at"),
        notice_hash=case((others, bindparam("notice")), else_=null()),
        notice_expires_at=case((others, bindparam("notice_until")), else_=null()),
    )
    return statement.on_conflict_do_update(
        index_elements=["user_id", "device_hash"],
        set_={"last_seen_at": statement.excluded.last_seen_at, "ip": statement.excluded.ip},
    ).returning(table.c.notice_hash)


# Run by the driver (OneRowWrite), built once per dialect: every sign-in runs it, and
# SQLAlchemy's execution of it cost more than psycopg's own work.
_SEEN = OneRowWrite(
    _upsert, keys=("owner", "device", "agent", "ip", "at", "notice", "notice_until")
)
