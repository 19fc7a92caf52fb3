"""Access and refresh tokens, stored as hashes, grouped in rotation families."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from authlib.oauth2.rfc6749 import TokenMixin
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
    exists,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.clock import now
from idp.database import changed_rows
from idp.driver_statements import OneRowWrite
from idp.extensions import Model, db
from idp.models.client import Client
from idp.models.hashing import sha256_hex
from idp.models.revoked_access_token import RevokedAccessToken
from idp.models.user import User


@dataclass(frozen=True, slots=True)
class Owner:
    """The active user behind a refresh token just spent: what its successor needs of them."""

    id: int
    subject: str
    is_active: bool = True  # spend_usable matches only an active user's token


@dataclass(frozen=True, slots=True)
class SpentRefresh:
    """A refresh token spent by rotation, as plain values: what its successor inherits."""

    id: int
    client_id: str
    family: str
    code_id: int | None
    sid: str
    claims: dict[str, Any] | None
    granted_scope: str  # the grant's (Token.granted_scope), which the successor inherits
    authentication: dict[str, Any] | None
    user: Owner

    def check_client(self, client: Client) -> bool:
        """True when the token was issued to this client (spend_usable matched only those)."""
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        """The grant's scopes: a refresh naming none asks for them all (RFC 6749 6)."""
        return self.granted_scope


class Token(Model, TokenMixin):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # All tokens descending from one grant share a family; reuse revokes the family.
    family: Mapped[str] = mapped_column(String(64), index=True)
    code_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # The refresh token this one was rotated from: a retry within the grace finds its child.
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    sid: Mapped[str] = mapped_column(String(64), default="", index=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    claims: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    token_type: Mapped[str] = mapped_column(String(20), default="Bearer")
    scope: Mapped[str] = mapped_column(Text, default="")
    # The grant's scope when a refresh narrowed the access token's (RFC 6749 6: the refresh
    # token keeps what was granted, and a later refresh may ask for all of it); None: `scope`.
    refresh_scope: Mapped[str | None] = mapped_column(Text, nullable=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    expires_in: Mapped[int] = mapped_column(Integer)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    access_revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    refresh_revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Set with refresh_revoked_at when spent by rotation or withdrawn by a retry; None when
    # revoked any other way, so presenting a revoked token is not mistaken for a replayed
    # (stolen) one.
    refresh_rotated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # RFC 9068: the `jti` of a JWT access token (None for opaque ones); revoking the row
    # lists it in revoked_access_tokens, which is what verifying the JWT consults.
    jti: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # auth_time, acr, amr of the sign-in behind the grant, carried into JWT access tokens
    # issued on refresh (the authorization code row is pruned long before the family ends).
    authentication: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    user: Mapped[User | None] = relationship(lazy="joined")

    @property
    def expires_at(self) -> datetime:
        """When the access token stops working."""
        return self.issued_at + timedelta(seconds=self.expires_in)

    @classmethod
    def by_access_token(cls, value: str) -> Token | None:
        """Look up by the presented access token."""
        return db.session.scalar(select(cls).where(cls.access_token_hash == sha256_hex(value)))

    @classmethod
    def by_refresh_token(cls, value: str) -> Token | None:
        """Look up by the presented refresh token."""
        return db.session.scalar(select(cls).where(cls.refresh_token_hash == sha256_hex(value)))

    @classmethod
    def for_rotation(cls, value: str) -> Token | None:
        """The presented refresh token with its user, as copies outside the session.

        One Core statement and two plain constructors: loading both as ORM objects cost
        more than the statement, and the refresh grant only reads them (every change to the
        row is a statement of its own: spend_refresh, withdraw, revoke_where).
        """
        found = db.session.connection().execute(_FOR_ROTATION, {"hash": sha256_hex(value)})
        row = found.first()
        if row is None:
            return None
        values = row._mapping
        token = cls(**{c.key: values[c.key] for c in _TOKEN_COLUMNS})
        if values["u_id"] is not None:
            token.user = User(**{c.key: values["u_" + c.key] for c in _USER_COLUMNS})
        return token

    @classmethod
    def spend_usable(cls, value: str, *, client_id: str, at: datetime) -> SpentRefresh | None:
        """Spend the presented refresh token if usable, its client's and an active user's.

        One conditional UPDATE ... RETURNING: the lookup and the spend of a rotation in one
        statement, so of concurrent uses exactly one matches. None when anything is amiss
        (unknown, spent, revoked, expired, another client's, a disabled user's): the caller
        then reads the row to tell which, as before this statement existed.
        """
        row = _SPEND_USABLE.returning(
            db.session.connection(),
            {"hash": sha256_hex(value), "client": client_id, "spent_at": at},
        )
        if row is None:
            return None
        token_id, user_id, family, code_id, sid, claims, scope, refresh_scope, authn, subject = row
        return SpentRefresh(
            id=token_id,
            client_id=client_id,
            family=family,
            code_id=code_id,
            sid=sid,
            claims=claims,
            granted_scope=refresh_scope if refresh_scope is not None else scope,
            authentication=authn,
            user=Owner(id=user_id, subject=subject),
        )

    @classmethod
    def revoke_where(cls, *criteria: Any) -> int:
        """Revoke every access and refresh token matching the criteria."""
        at = now()
        _list_jtis(*criteria, cls.access_revoked_at.is_(None), at=at)
        result = changed_rows(
            update(cls)
            .where(*criteria, cls.access_revoked_at.is_(None))
            .values(access_revoked_at=at)
        )
        db.session.execute(
            update(cls)
            .where(*criteria, cls.refresh_revoked_at.is_(None))
            .values(refresh_revoked_at=at)
        )
        return result

    @classmethod
    def live_child(cls, parent: Token) -> Token | None:
        """The unspent refresh token rotated from `parent`, if any."""
        return db.session.scalar(
            select(cls).where(cls.parent_id == parent.id, cls.refresh_revoked_at.is_(None))
        )

    @classmethod
    def spend_refresh(cls, token_id: int, at: datetime) -> bool:
        """Mark a refresh token rotated; False if it was already spent (a concurrent use won).

        A Core statement on the request's connection: every refresh runs it, and the ORM's
        bulk update would also look for the row among loaded objects to update them.
        """
        result = db.session.connection().execute(_SPEND, {"spent_id": token_id, "spent_at": at})
        return cast("CursorResult[Any]", result).rowcount == 1

    @classmethod
    def withdraw(cls, token_id: int, at: datetime) -> bool:
        """Revoke an unspent token pair whose response was lost; False if already spent.

        Marked rotated too: its answer never reached the client that retried, so whoever
        presents it later holds a copy of the grant (a thief who rotated first within the
        grace, or the client a thief's "retry" cut off) and the family is revoked.
        """
        _list_jtis(cls.id == token_id, cls.refresh_revoked_at.is_(None), at=at)
        result = changed_rows(
            update(cls)
            .where(cls.id == token_id, cls.refresh_revoked_at.is_(None))
            .values(refresh_revoked_at=at, refresh_rotated_at=at, access_revoked_at=at)
        )
        return result == 1

    def refresh_usable(self, at: datetime) -> bool:
        """A refresh token works until rotated, revoked or expired."""
        return (
            self.refresh_token_hash is not None
            and self.refresh_revoked_at is None
            and (self.refresh_expires_at is None or at < self.refresh_expires_at)
        )

    # Authlib's TokenMixin -------------------------------------------------
    def check_client(self, client: Client) -> bool:
        """True when the token was issued to this client."""
        return self.client_id == client.get_client_id()

    @property
    def granted_scope(self) -> str:
        """The scopes of the grant the refresh token carries (its access token's may be fewer)."""
        return self.refresh_scope if self.refresh_scope is not None else self.scope

    def get_scope(self) -> str:
        """The access token's scopes."""
        return self.scope

    def get_expires_in(self) -> int:
        """Access token lifetime in seconds."""
        return self.expires_in

    def is_expired(self) -> bool:
        """Access token past its lifetime."""
        return now() >= self.expires_at

    def is_revoked(self) -> bool:
        """Access token revoked."""
        return self.access_revoked_at is not None

    def get_user(self) -> User | None:
        """The resource owner (None for client credentials)."""
        return self.user

    def get_client(self) -> Client | None:
        """The client the token was issued to."""
        return Client.by_client_id(self.client_id)


def _list_jtis(*criteria: Any, at: datetime) -> None:
    """List the unexpired JWT access tokens of the matching rows as revoked (RFC 9068).

    Opaque tokens have no jti and are judged by their row; a JWT is verified without it.
    """
    rows = db.session.execute(
        select(Token.jti, Token.issued_at, Token.expires_in).where(
            *criteria, Token.jti.is_not(None)
        )
    ).all()
    entries = [
        (jti, issued + timedelta(seconds=ttl))
        for jti, issued, ttl in rows
        if jti and issued + timedelta(seconds=ttl) > at
    ]
    RevokedAccessToken.record(entries)


_table = cast("Table", Token.__table__)
_SPEND = (
    update(_table)
    .where(_table.c.id == bindparam("spent_id"), _table.c.refresh_revoked_at.is_(None))
    .values(refresh_revoked_at=bindparam("spent_at"), refresh_rotated_at=bindparam("spent_at"))
)

_users = cast("Table", User.__table__)
_owner_active = (_users.c.id == _table.c.user_id) & _users.c.disabled_at.is_(None)
# Only the hash's unique index may find the row: the client is compared with IS NOT DISTINCT
# FROM (the same test on a NOT NULL column), which no index answers. Compared with `=`,
# PostgreSQL's plan for the prepared statement walked the client's index (every token of the
# client, more with each refresh) while the table's statistics were young.
# Only what the successor inherits is returned; the user's subject by a correlated subquery,
# as SQLite's RETURNING may not name an UPDATE ... FROM table. Run by the driver (OneRowWrite):
# every refresh runs it, and SQLAlchemy's execution cost more than the statement's own work.
_SPEND_USABLE = OneRowWrite(
    update(_table)
    .where(
        _table.c.refresh_token_hash == bindparam("hash"),
        _table.c.client_id.is_not_distinct_from(bindparam("client")),
        _table.c.refresh_revoked_at.is_(None),
        _table.c.refresh_expires_at.is_(None)
        | (_table.c.refresh_expires_at > bindparam("spent_at")),
        exists().where(_owner_active),
    )
    .values(refresh_revoked_at=bindparam("spent_at"), refresh_rotated_at=bindparam("spent_at"))
    .returning(
        _table.c.id,
        _table.c.user_id,
        _table.c.family,
        _table.c.code_id,
        _table.c.sid,
        _table.c.claims,
        _table.c.scope,
        _table.c.refresh_scope,
        _table.c.authentication,
        select(_users.c.subject)
        .where(_users.c.id == _table.c.user_id)
        .scalar_subquery()
        .label("subject"),
    ),
    keys=("hash", "client", "spent_at"),
)
_TOKEN_COLUMNS = Token.__mapper__.column_attrs
_USER_COLUMNS = User.__mapper__.column_attrs
_FOR_ROTATION = (
    select(
        *(_table.c[c.columns[0].name].label(c.key) for c in _TOKEN_COLUMNS),
        *(_users.c[c.columns[0].name].label("u_" + c.key) for c in _USER_COLUMNS),
    )
    .select_from(_table.outerjoin(_users, _users.c.id == _table.c.user_id))
    .where(_table.c.refresh_token_hash == bindparam("hash"))
)
