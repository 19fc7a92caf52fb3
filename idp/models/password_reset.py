"""A single-use password reset link, stored as its hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import Model, db


class PasswordReset(Model):
    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Only the mailbox protects the account: the reset waits until then, announced by mail.
    cooling_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    cancel_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    @classmethod
    def by_hash(cls, token_hash: str) -> PasswordReset | None:
        """The reset named by a link's token hash."""
        return db.session.scalar(select(cls).where(cls.token_hash == token_hash))

    @classmethod
    def by_cancel_hash(cls, cancel_hash: str) -> PasswordReset | None:
        """The cooling-off reset a cancel link names."""
        return db.session.scalar(select(cls).where(cls.cancel_hash == cancel_hash))
