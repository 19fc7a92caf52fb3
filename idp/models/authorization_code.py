"""A single-use authorization code, stored as its hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.database import changed_rows
from idp.extensions import Model, db
from idp.models.hashing import sha256_hex
from idp.models.user import User


class AuthorizationCode(Model, AuthorizationCodeMixin):
    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text, default="")
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    claims: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str] = mapped_column(String(64), default="")
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    sid: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    user: Mapped[User] = relationship(lazy="joined")

    @classmethod
    def find(cls, code: str, client_id: str) -> AuthorizationCode | None:
        """The code issued to this client, used or not."""
        return db.session.scalar(
            select(cls).where(cls.code_hash == sha256_hex(code), cls.client_id == client_id)
        )

    def claim(self, at: datetime) -> bool:
        """Mark used atomically; exactly one of concurrent redemptions gets True."""
        result = changed_rows(
            update(AuthorizationCode)
            .where(AuthorizationCode.id == self.id, AuthorizationCode.used_at.is_(None))
            .values(used_at=at)
        )
        return result == 1

    # Authlib's AuthorizationCodeMixin -----------------------------------
    def get_redirect_uri(self) -> str:
        """The redirect_uri of the authorization request."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """Granted scopes."""
        return self.scope

    def get_nonce(self) -> str | None:
        """The request's nonce, echoed in the ID token."""
        return self.nonce

    def get_auth_time(self) -> int:
        """When the user's password was verified (epoch seconds)."""
        return self.auth_time

    def get_acr(self) -> str:
        """The authentication context class reached."""
        return self.acr

    def get_amr(self) -> list[str]:
        """Methods verified in this authentication (RFC 8176)."""
        return list(self.amr)
