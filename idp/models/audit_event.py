"""An append-only record of a security event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, DateTime, Integer, String, Table, insert
from sqlalchemy.orm import Mapped, mapped_column

from idp.clock import now
from idp.driver_statements import OneRowWrite
from idp.extensions import Model, db


class AuditEvent(Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=now, index=True)
    event: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(400), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @classmethod
    def append(
        cls,
        *,
        at: datetime,
        event: str,
        user_id: int | None,
        client_id: str | None,
        ip: str | None,
        user_agent: str | None,
        detail: dict[str, Any],
    ) -> None:
        """Write one event in the session's transaction (nothing reads it back in a request)."""
        _APPEND.run(
            db.session.connection(),
            {
                "at": at,
                "event": event,
                "user_id": user_id,
                "client_id": client_id,
                "ip": ip,
                "user_agent": user_agent,
                "detail": detail,
            },
        )


# Built once on the table: an ORM object per event, flushed with the request, cost more to
# build and flush than the INSERT itself. Run by the driver (OneRowWrite): SQLAlchemy's
# execution of it cost more than psycopg's own work (~0.12 ms an event, two a sign-in).
# inline(): no RETURNING of the new id, which nothing reads.
_APPEND = OneRowWrite(
    insert(cast("Table", AuditEvent.__table__)).inline(),
    keys=("at", "event", "user_id", "client_id", "ip", "user_agent", "detail"),
)
