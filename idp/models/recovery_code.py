"""Single-use recovery codes, stored as hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import Model, db


class RecoveryCode(Model):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @classmethod
    def remaining(cls, user_id: int) -> int:
        """How many codes are left."""
        return (
            db.session.scalar(
                select(func.count()).where(cls.user_id == user_id, cls.used_at.is_(None))
            )
            or 0
        )

    @classmethod
    def delete_all(cls, user_id: int) -> None:
        """Void the user's whole set."""
        db.session.execute(delete(cls).where(cls.user_id == user_id))
