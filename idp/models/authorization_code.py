"""A single-use authorization code, stored as its hash."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import (
    JSON,
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
from sqlalchemy.orm import Mapped, mapped_column

from idp.database import changed_rows
from idp.driver_statements import OneRowWrite
from idp.extensions import Model, db
from idp.models.bearer import UserClaims
from idp.models.hashing import sha256_hex
from idp.models.user import User


class AuthorizationCode(Model):
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

    @classmethod
    def issue(cls, **values: Any) -> None:
        """Store a new code (its hash and what it grants); nothing in the request reads it back."""
        _ISSUE.run(db.session.connection(), values)

    @classmethod
    def find(cls, code: str, client_id: str) -> AuthorizationCode | None:
        """The code issued to this client, used or not."""
        return db.session.scalar(_FIND, {"code_hash": sha256_hex(code), "client_id": client_id})

    @classmethod
    def spend_live(cls, code: str, client_id: str, *, at: datetime) -> SpentCode | None:
        """Spend the code if it is this client's, unused and unexpired, with its user's claims.

        One conditional UPDATE ... RETURNING: the lookup and the spend in one statement, so of
        concurrent redemptions exactly one matches (PostgreSQL: the others wait for its
        transaction, then find the code used). None when anything is amiss (unknown, used,
        expired, another client's): the caller then reads the row to tell a replay.
        """
        row = _SPEND_LIVE.returning(
            db.session.connection(), {"hash": sha256_hex(code), "client": client_id, "spent_at": at}
        )
        if row is None:
            return None
        values = dict(zip(_SPEND_LIVE_NAMES, row, strict=True))
        return SpentCode(
            **{name: values[name] for name in _SPENT_COLUMNS},
            user=UserClaims(**{name: values["u_" + name] for name in _CLAIM_COLUMNS}),
        )

    @classmethod
    def unspend(cls, code_id: int) -> None:
        """Give back a code this transaction spent for a request refused after all (a wrong
        redirect_uri or PKCE verifier): it stays usable, as if the request never came. The
        spend's row lock is held until the transaction ends, so no one else used it since."""
        changed_rows(update(_table).where(_table.c.id == code_id).values(used_at=None))


@dataclass(frozen=True, slots=True)
class SpentCode(AuthorizationCodeMixin):
    """A code spent by the statement that found it, as plain values: what the exchange reads."""

    id: int
    client_id: str
    user_id: int
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    claims: dict[str, Any] | None
    auth_time: int
    acr: str
    amr: list[str]
    sid: str
    user: UserClaims

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
# they cost more to build and key per code than to run. Both run by the driver (OneRowWrite):
# SQLAlchemy's execution of them cost more than psycopg's own work. inline(): no RETURNING
# of the new id, which nothing reads.
_table = cast("Table", AuthorizationCode.__table__)
_ISSUE = OneRowWrite(
    insert(_table).inline(),
    keys=(
        "code_hash",
        "client_id",
        "user_id",
        "redirect_uri",
        "scope",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "claims",
        "auth_time",
        "acr",
        "amr",
        "sid",
        "created_at",
        "expires_at",
        "used_at",
    ),
)

_users = cast("Table", User.__table__)
_SPENT_COLUMNS = tuple(f.name for f in fields(SpentCode) if f.name != "user")
_CLAIM_COLUMNS = tuple(f.name for f in fields(UserClaims))
# Only the hash's unique index may find the row: the client is compared with IS NOT DISTINCT
# FROM (the same test on a NOT NULL column), which no index answers (see Token's spend).
# The user's claims come by correlated subqueries, as SQLite's RETURNING may not name an
# UPDATE ... FROM table: the ID token needs them, and a SELECT of its own would undo the gain.
_SPENDING = (
    update(_table)
    .where(
        _table.c.code_hash == bindparam("hash"),
        _table.c.client_id.is_not_distinct_from(bindparam("client")),
        _table.c.used_at.is_(None),
        _table.c.expires_at > bindparam("spent_at"),
    )
    .values(used_at=bindparam("spent_at"))
    .returning(
        *(_table.c[name] for name in _SPENT_COLUMNS),
        _table.c.user_id.label("u_id"),
        *(
            select(_users.c[name])
            .where(_users.c.id == _table.c.user_id)
            .scalar_subquery()
            .label("u_" + name)
            for name in _CLAIM_COLUMNS
            if name != "id"
        ),
    )
)
_SPEND_LIVE = OneRowWrite(_SPENDING, keys=("hash", "client", "spent_at"))
_SPEND_LIVE_NAMES = tuple(column.key for column in _SPENDING.exported_columns)
