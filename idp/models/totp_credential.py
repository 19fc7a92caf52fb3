"""An authenticator app enrolled by a user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from idp.clock import now
from idp.extensions import Model, db


class TotpCredential(Model):
    __tablename__ = "totp_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # Encrypted with a key derived from the app secret: the code must be recomputable,
    # so it cannot be hashed, but a database dump alone must not yield it.
    secret_encrypted: Mapped[str] = mapped_column(String(300))
    # The last accepted time step: codes at or before it are refused (replay), across workers.
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @classmethod
    def of_user(cls, user_id: int) -> list[TotpCredential]:
        """The user's apps, oldest first."""
        return list(db.session.scalars(select(cls).where(cls.user_id == user_id).order_by(cls.id)))
