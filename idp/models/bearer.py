"""What /userinfo reads about a bearer token and its user: one statement, no ORM objects.

Every userinfo call runs exactly one of these; loading the token and user as ORM objects
cost about three times the statement itself, and SQLAlchemy's execution of a Core statement
about as much as psycopg's own work: each is compiled once and run on the driver's
connection (idp.driver_statements.OneRowRead). The rows come back as read-only values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from authlib.oauth2.rfc6749 import TokenMixin
from sqlalchemy import Table, bindparam, exists, select

from idp.clock import now
from idp.driver_statements import OneRowRead
from idp.extensions import db
from idp.models.hashing import sha256_hex
from idp.models.revoked_access_token import RevokedAccessToken
from idp.models.token import Token
from idp.models.user import User


@dataclass(frozen=True, slots=True)
class UserClaims:
    """A user's claim values (idp.oidc.claims) and whether the account is enabled."""

    id: int
    subject: str
    email: str
    email_verified: bool
    name: str
    given_name: str
    family_name: str
    locale: str
    roles: list[str]
    updated_at: datetime | None
    disabled_at: datetime | None

    @property
    def is_active(self) -> bool:
        """False once an admin disabled the account."""
        return self.disabled_at is None


class AccessGrant(TokenMixin):
    """An access token as Authlib's bearer validation and the userinfo endpoint read it."""

    __slots__ = ("checked_at", "client_id", "expires_at", "revoked", "scope", "user")

    def __init__(
        self,
        *,
        client_id: str,
        scope: str,
        expires_at: datetime,
        revoked: bool,
        user: UserClaims | None,
        checked_at: datetime | None = None,
    ) -> None:
        self.client_id = client_id
        self.scope = scope
        self.expires_at = expires_at
        self.revoked = revoked
        self.user = user
        # When the caller already read the clock for this request (a JWT's exp): not again.
        self.checked_at = checked_at

    def check_client(self, client: Any) -> bool:
        """True when the token was issued to this client."""
        return bool(self.client_id == client.get_client_id())

    def get_scope(self) -> str:
        """Granted scopes."""
        return self.scope

    def get_expires_in(self) -> int:
        """Seconds left (0 once expired)."""
        return max(0, int((self.expires_at - now()).total_seconds()))

    def is_expired(self) -> bool:
        """Past its lifetime."""
        return (self.checked_at or now()) >= self.expires_at

    def is_revoked(self) -> bool:
        """Revoked (an opaque token's row; a listed JWT is never found)."""
        return self.revoked

    def get_user(self) -> UserClaims | None:
        """The resource owner (None for client credentials)."""
        return self.user


_tokens = cast("Table", Token.__table__)
_users = cast("Table", User.__table__)
_USER = [
    _users.c[name]
    for name in (
        "id",
        "subject",
        "email",
        "email_verified",
        "name",
        "given_name",
        "family_name",
        "locale",
        "roles",
        "updated_at",
        "disabled_at",
    )
]
_BY_ACCESS_HASH = OneRowRead(
    select(
        _tokens.c.client_id,
        _tokens.c.scope,
        _tokens.c.issued_at,
        _tokens.c.expires_in,
        _tokens.c.access_revoked_at,
        *_USER,
    )
    .select_from(_tokens.outerjoin(_users, _users.c.id == _tokens.c.user_id))
    .where(_tokens.c.access_token_hash == bindparam("hash"))
)
_LISTED = exists(
    select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == bindparam("jti"))
).label("listed")
_USER_AND_LISTED = OneRowRead(
    select(*_USER, _LISTED).where(_users.c.subject == bindparam("subject"))
)
_ONLY_LISTED = OneRowRead(select(_LISTED))


def _read_one(read: OneRowRead, params: dict[str, str]) -> Any:
    """One row of a single read, on a connection of its own in autocommit mode.

    A lone SELECT needs no transaction: without one PostgreSQL is asked once, not three times
    (BEGIN, the statement, then ROLLBACK when the request's session ends), and no ORM session is
    opened for it. It sees what is committed, as the session's first statement would.
    """
    return read.first(db.engine, params)


def _user(values: Any) -> UserClaims | None:
    if values[0] is None:
        return None
    return UserClaims(*values[:11])


def access_grant(value: str) -> AccessGrant | None:
    """The opaque access token presented, with its user, or None if unknown."""
    row = _read_one(_BY_ACCESS_HASH, {"hash": sha256_hex(value)})
    if row is None:
        return None
    client_id, scope, issued_at, expires_in, revoked_at, *user = row
    return AccessGrant(
        client_id=client_id,
        scope=scope or "",
        expires_at=issued_at + timedelta(seconds=expires_in),
        revoked=revoked_at is not None,
        user=_user(user),
    )


def jti_listed(jti: str) -> bool:
    """Whether a JWT access token's jti is on the revoked list."""
    row = _read_one(_ONLY_LISTED, {"jti": jti})
    return bool(row[0])


def user_unless_listed(subject: str, jti: str) -> tuple[UserClaims, bool] | None:
    """(the user, whether the jti is revoked) in one statement; None for an unknown subject."""
    found = _read_one(_USER_AND_LISTED, {"subject": subject, "jti": jti})
    if found is None:
        return None
    user = _user(found)
    assert user is not None  # selected by subject: the row is a user's
    return user, bool(found[11])
