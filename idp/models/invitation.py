"""An admin's invitation: a single-use activation link, stored as its hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from idp.database import changed_rows
from idp.extensions import Model, db


class Invitation(Model):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the link's token: a database dump yields no usable link.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The admin who sent it (None: the CLI or the API); kept for the audit trail.
    invited_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @classmethod
    def by_hash(cls, token_hash: str) -> Invitation | None:
        """The invitation a link's token hash names."""
        return db.session.scalar(select(cls).where(cls.token_hash == token_hash))

    @classmethod
    def void_for(cls, user_id: int, *, at: datetime) -> int:
        """Spend every unused invitation of the user (a newer one, or a reset, replaces them)."""
        return changed_rows(
            update(cls).where(cls.user_id == user_id, cls.used_at.is_(None)).values(used_at=at)
        )

    @classmethod
    def spend(cls, invitation_id: int, *, at: datetime) -> bool:
        """Mark used, atomically: of two concurrent uses exactly one wins."""
        return (
            changed_rows(
                update(cls).where(cls.id == invitation_id, cls.used_at.is_(None)).values(used_at=at)
            )
            == 1
        )
