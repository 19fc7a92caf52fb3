"""JWT access tokens (RFC 9068): signed when issued, verified without the tokens table.

Issued to clients whose `access_token_format` is "jwt". Verifying checks the signature with
our own keys, `typ` (4: at+jwt, so an ID token is never taken for an access token), `iss`,
`exp` on the app's clock and `aud`, that the client is still enabled, then asks the database
one question: the user behind `sub` (none for client credentials), together with whether
the `jti` was revoked. Revocation (RFC 7009, sign-out everywhere, a password change, a
disabled client's user tokens) lists the jti until the token would have expired.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import TokenMixin
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select

from idp.clock import epoch, now
from idp.config import Settings
from idp.extensions import db
from idp.models.client import Client
from idp.models.revoked_access_token import RevokedAccessToken
from idp.models.user import User
from idp.oidc.clients import ClientCache
from idp.oidc.keys import KeyStore

TYP = "at+jwt"
# RFC 9068 4: "at+jwt" or, with the optional prefix, "application/at+jwt".
ACCEPTED_TYP = (TYP, "application/" + TYP)
REQUIRED = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


@dataclass(frozen=True, slots=True)
class Issued:
    """A signed access token and what the tokens row keeps of it."""

    value: str
    jti: str
    expires_at: int


def looks_like_jwt(value: str) -> bool:
    """Three dot-separated parts; opaque tokens are letters and digits only."""
    return value.count(".") == 2


def issue(
    *,
    keys: KeyStore,
    settings: Settings,
    client_id: str,
    subject: str | None,
    scope: str,
    authentication: dict[str, Any] | None,
) -> Issued:
    """Sign an access token for the client, and the user `subject` when one signed in.

    RFC 9068 2.2: iss, exp, aud, sub, client_id, iat, jti, and scope; auth_time, acr and amr
    of the sign-in when there was one. `sub` is the client_id for client credentials (2.2).
    """
    issued = epoch(now())
    jti = secrets.token_urlsafe(24)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "exp": issued + settings.jwt_access_token_ttl_seconds,
        "aud": client_id,  # no resource indicators (RFC 8707): the client is the audience
        "sub": subject or client_id,
        "client_id": client_id,
        "iat": issued,
        "jti": jti,
        "scope": scope,
    }
    if subject is not None and authentication:
        for name in ("auth_time", "acr", "amr"):
            if authentication.get(name):
                claims[name] = authentication[name]
    alg = settings.jwt_access_token_alg
    key = keys.signing_key(alg)
    header = {"typ": TYP, "alg": alg, "kid": key.kid}
    return Issued(jwt.encode(header, claims, key), jti, claims["exp"])


class JwtAccessToken(TokenMixin):  # type: ignore[misc]
    """A verified JWT access token, shaped like the tokens row for Authlib's endpoints."""

    def __init__(self, claims: dict[str, Any], user: User | None) -> None:
        self.claims = claims
        self.user = user
        self.client_id: str = claims["client_id"]
        self.scope: str = claims.get("scope") or ""
        self.jti: str = claims["jti"]

    @property
    def expires_at(self) -> datetime:
        """When the token stops working, naive UTC like idp.clock.now()."""
        return datetime.fromtimestamp(self.claims["exp"], UTC).replace(tzinfo=None)

    def check_client(self, client: Client) -> bool:
        """True when the token was issued to this client."""
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        """Granted scopes."""
        return self.scope

    def get_expires_in(self) -> int:
        """Lifetime in seconds, as issued."""
        return int(self.claims["exp"]) - int(self.claims["iat"])

    def is_expired(self) -> bool:
        """Checked when verified: a verified token is unexpired."""
        return epoch(now()) >= int(self.claims["exp"])

    def is_revoked(self) -> bool:
        """Checked when verified: a verified token's jti is not listed."""
        return False

    def get_user(self) -> User | None:
        """The resource owner (None for client credentials)."""
        return self.user


def verify(
    value: str, *, keys: KeyStore, settings: Settings, clients: ClientCache
) -> JwtAccessToken | None:
    """The token if it is ours, unexpired, for an enabled client and not revoked; else None."""
    claims = verified_claims(value, keys=keys, settings=settings, clients=clients)
    if claims is None:
        return None
    revoked = RevokedAccessToken.listed(claims["jti"])
    user: User | None = None
    if claims["sub"] == claims["client_id"]:
        listed = db.session.scalar(select(revoked))
    else:
        # One statement: the user and whether the jti was revoked.
        row = db.session.execute(select(User, revoked).where(User.subject == claims["sub"])).first()
        if row is None:
            return None
        user, listed = row
    return None if listed else JwtAccessToken(claims, user)


def verified_claims(
    value: str,
    *,
    keys: KeyStore,
    settings: Settings,
    clients: ClientCache,
    at: datetime | None = None,
) -> dict[str, Any] | None:
    """The claims if the token is ours, unexpired at `at` (default: now) and for an enabled
    client (revocation is the caller's question, asked in its own statement)."""
    claims = _checked_claims(value, keys=keys, settings=settings, at=at)
    if claims is None or clients.get(claims["client_id"]) is None:
        return None
    return claims


def _checked_claims(
    value: str, *, keys: KeyStore, settings: Settings, at: datetime | None
) -> dict[str, Any] | None:
    """Signature, typ, iss, exp and aud; the revocation list is asked only after these."""
    try:
        keyset, registry = keys.verification()
        token = jwt.decode(value, keyset, registry=registry)
    except (JoseError, ValueError, TypeError, KeyError):
        return None  # not ours, tampered, or not a JWT at all: an unknown token
    typ = str(token.header.get("typ", "")).lower()
    claims = token.claims
    if typ not in ACCEPTED_TYP or any(not claims.get(name) for name in REQUIRED):
        return None
    if not all(isinstance(claims[name], str) for name in ("sub", "client_id", "jti")):
        return None
    aud = claims["aud"]
    audiences = aud if isinstance(aud, list) else [aud]
    exp = claims["exp"]
    if claims["iss"] != settings.issuer or claims["client_id"] not in audiences:
        return None
    if not isinstance(exp, int) or isinstance(exp, bool) or epoch(at or now()) >= exp:
        return None
    return claims


def sign_in_context(request: Any) -> dict[str, Any] | None:
    """auth_time, acr, amr of the sign-in behind a code or refresh grant (None otherwise)."""
    code = getattr(request, "authorization_code", None)
    if code is not None:
        return {"auth_time": code.auth_time, "acr": code.acr, "amr": list(code.amr)}
    parent = getattr(request, "refresh_token", None)
    if parent is not None:
        return parent.authentication  # type: ignore[no-any-return]
    return None
