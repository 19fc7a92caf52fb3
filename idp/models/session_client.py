"""Which clients a browser session has served: the relying parties to tell when it ends."""

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
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from idp.driver_statements import OneRowWrite
from idp.extensions import Model, db
from idp.models.upsert import dialect_insert


class SessionClient(Model):
    __tablename__ = "session_clients"
    # One row per (session, client): a session that served a client ten times logs it out once.
    __table_args__ = (UniqueConstraint("sid", "client_id", name="uq_session_clients_sid_client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The session's public id (the ID token's `sid`), not its cookie: it survives the id
    # rotation at each sign-in step, so a session keeps its clients from start to end.
    sid: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    first_at: Mapped[datetime] = mapped_column(DateTime)
    last_at: Mapped[datetime] = mapped_column(DateTime)

    @classmethod
    def note(cls, *, sid: str, user_id: int, client_id: str, at: datetime) -> None:
        """Record that the session `sid` was issued a code for `client_id` (idempotent).

        One statement, safe under concurrency: INSERT ... ON CONFLICT (sid, client_id) DO
        UPDATE (PostgreSQL and SQLite alike), instead of a SELECT, a savepoint and an INSERT.
        """
        _NOTE.run(
            db.session.connection(),
            {"sid": sid, "user_id": user_id, "client_id": client_id, "first_at": at, "last_at": at},
        )

    @classmethod
    def of_sessions(cls, user_id: int, sids: list[str]) -> list[SessionClient]:
        """The clients each of the user's sessions `sids` served, oldest first."""
        if not sids:
            return []
        return list(
            db.session.scalars(
                select(cls)
                .where(cls.user_id == user_id, cls.sid.in_(sids))
                .order_by(cls.first_at, cls.id)
            )
        )


def _upsert(dialect: str) -> Insert:
    """On the table (no ORM bulk path); inline(): no RETURNING of an id nobody reads."""
    table = cast("Table", SessionClient.__table__)
    statement = (
        dialect_insert(dialect, table)
        .inline()
        .values(
            {
                name: bindparam(name)
                for name in ("sid", "user_id", "client_id", "first_at", "last_at")
            }
        )
    )
    return statement.on_conflict_do_update(
        index_elements=["sid", "client_id"], set_={"last_at": statement.excluded.last_at}
    )


# Run by the driver (OneRowWrite), built once per dialect: every code issued runs it, and
# SQLAlchemy's execution of it cost more than psycopg's own work.
_NOTE = OneRowWrite(_upsert, keys=("sid", "user_id", "client_id", "first_at", "last_at"))
