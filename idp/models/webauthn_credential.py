"""A security key or passkey registered by a user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, mapped_column

from idp.clock import now
from idp.extensions import Model, db


class WebAuthnCredential(Model):
    __tablename__ = "webauthn_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # base64url of the credential id; unique across all users (WebAuthn 7.1 step 25).
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    aaguid: Mapped[str] = mapped_column(String(40), default="")
    # BE: may sync between devices (a passkey); BS: is currently backed up.
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    user_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @classmethod
    def of_user(cls, user_id: int) -> list[WebAuthnCredential]:
        """The user's keys and passkeys, oldest first."""
        return list(db.session.scalars(select(cls).where(cls.user_id == user_id).order_by(cls.id)))

    @classmethod
    def by_credential_id(cls, credential_id: str) -> WebAuthnCredential | None:
        """The credential with this (base64url) id, whoever owns it."""
        return db.session.scalar(select(cls).where(cls.credential_id == credential_id))
