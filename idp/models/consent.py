"""Scopes a user agreed to share with a client, remembered per (user, client)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from idp.clock import now
from idp.extensions import Model, db


class Consent(Model):
    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=now)

    @classmethod
    def find(cls, user_id: int, client_id: str) -> Consent | None:
        """The user's standing consent for a client, if any."""
        return db.session.scalar(
            select(cls).where(cls.user_id == user_id, cls.client_id == client_id)
        )

    @classmethod
    def of_user(cls, user_id: int) -> list[Consent]:
        """Every standing consent of the user, most recent first."""
        query = select(cls).where(cls.user_id == user_id).order_by(cls.granted_at.desc(), cls.id)
        return list(db.session.scalars(query))

    def covers(self, scopes: list[str]) -> bool:
        """True when every requested scope was already agreed to."""
        return set(scopes) <= set(self.scopes)
