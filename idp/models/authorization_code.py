"""A single-use authorization code, stored as its hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import (
    JSON,
    CursorResult,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

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
    def issue(cls, **values: Any) -> None:
        """Store a new code (its hash and what it grants); nothing in the request reads it back."""
        db.session.execute(_ISSUE, values)

    @classmethod
    def find(cls, code: str, client_id: str) -> AuthorizationCode | None:
        """The code issued to this client, used or not."""
        return db.session.scalar(_FIND, {"code_hash": sha256_hex(code), "client_id": client_id})

    def claim(self, at: datetime) -> bool:
        """Mark used atomically; exactly one of concurrent redemptions gets True."""
        result = db.session.execute(_CLAIM, {"code_id": self.id, "at": at})
        if cast("CursorResult[Any]", result).rowcount != 1:
            return False
        set_committed_value(self, "used_at", at)  # written by key: the loaded row learns it
        return True

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


# Built once with bound parameters: building it and its cache key per exchange cost about as
# much as running it.
_FIND = select(AuthorizationCode).where(
    AuthorizationCode.code_hash == bindparam("code_hash"),
    AuthorizationCode.client_id == bindparam("client_id"),
)
# Built once on the table: as ORM statements (an object flushed, a bulk UPDATE synchronised)
# they cost more to build and key per code than to run.
_table = cast("Table", AuthorizationCode.__table__)
_ISSUE = insert(_table)
_CLAIM = (
    update(_table)
    .where(_table.c.id == bindparam("code_id"), _table.c.used_at.is_(None))
    .values(used_at=bindparam("at"))
)
