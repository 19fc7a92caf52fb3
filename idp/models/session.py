"""A browser's sign-in at the provider: the server side of the opaque session cookie."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, delete
from sqlalchemy.orm import Mapped, mapped_column

from idp.clock import now
from idp.database import changed_rows
from idp.extensions import Model


class SessionRecord(Model):
    __tablename__ = "sessions"

    # SHA-256 of the cookie value: a database leak yields no usable cookie.
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    # Set only while no one has signed in: bounds the sign-ins one address keeps in progress.
    created_ip: Mapped[str | None] = mapped_column(String(45), nullable=True, index=True)

    @classmethod
    def end_all_for(cls, user_id: int) -> int:
        """Sign the user out of every browser."""
        result = changed_rows(delete(cls).where(cls.user_id == user_id))
        return result
