"""A one-time code sent by email, stored as a hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import Model, db


class EmailCode(Model):
    __tablename__ = "email_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # signin (second factor), activate (prove email), enroll (turn on email codes)
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @classmethod
    def latest(cls, user_id: int, purpose: str) -> EmailCode | None:
        """The most recent code sent for this purpose."""
        return db.session.scalar(
            select(cls)
            .where(cls.user_id == user_id, cls.purpose == purpose)
            .order_by(cls.id.desc())
            .limit(1)
        )

    @classmethod
    def recent(cls, user_id: int, purpose: str, limit: int) -> list[EmailCode]:
        """The newest codes sent for this purpose."""
        return list(
            db.session.scalars(
                select(cls)
                .where(cls.user_id == user_id, cls.purpose == purpose)
                .order_by(cls.id.desc())
                .limit(limit)
            )
        )

    @classmethod
    def sent_since(cls, user_id: int, since: datetime) -> int:
        """How many codes (any purpose) were sent to the user since then."""
        return (
            db.session.scalar(
                select(func.count()).where(cls.user_id == user_id, cls.created_at >= since)
            )
            or 0
        )
