"""A (user, client, device) the user chose not to be challenged on for N days."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, DateTime, ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from idp.database import changed_rows
from idp.extensions import Model, db


class TrustedDevice(Model):
    __tablename__ = "trusted_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    # SHA-256 of the long-lived device cookie: the cookie itself is never stored.
    device_hash: Mapped[str] = mapped_column(String(64), index=True)
    agent: Mapped[str] = mapped_column(String(80), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_verified_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)

    @classmethod
    def live(
        cls, user_id: int, client_id: str, device_hash: str, at: datetime
    ) -> TrustedDevice | None:
        """The unrevoked, unexpired record for this user, client and device."""
        return db.session.scalar(
            select(cls)
            .where(
                cls.user_id == user_id,
                cls.client_id == client_id,
                cls.device_hash == device_hash,
                cls.revoked_at.is_(None),
                cls.expires_at > at,
            )
            .order_by(cls.id.desc())
            .limit(1)
        )

    @classmethod
    def of_user(cls, user_id: int, at: datetime) -> list[TrustedDevice]:
        """The user's current trusted devices, newest first."""
        return list(
            db.session.scalars(
                select(cls)
                .where(cls.user_id == user_id, cls.revoked_at.is_(None), cls.expires_at > at)
                .order_by(cls.client_id, cls.id.desc())
            )
        )

    @classmethod
    def revoke_where(cls, *criteria: ColumnElement[bool], at: datetime, reason: str) -> int:
        """End trust for every live record matching the criteria."""
        return changed_rows(
            update(cls)
            .where(*criteria, cls.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
        )
