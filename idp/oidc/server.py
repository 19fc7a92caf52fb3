"""Builds Authlib's authorization server for one app: grants, endpoints, ID tokens."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError, UnsupportedResponseTypeError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode, UserInfoEndpoint
from authlib.oidc.core.grants.util import create_half_hash
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask, has_request_context
from flask import request as flask_request
from joserfc import jwt
from sqlalchemy import Table, insert

from idp.clock import epoch, now
from idp.config import Settings
from idp.database import commit_unless_in_request
from idp.driver_statements import OneRowWrite
from idp.extensions import db
from idp.metrics import count_token
from idp.models import bearer
from idp.models.authorization_code import SpentCode
from idp.models.bearer import AccessGrant, UserClaims
from idp.models.client import Client
from idp.models.hashing import sha256_hex
from idp.models.revoked_access_token import RevokedAccessToken
from idp.models.token import Owner, SpentRefresh, Token
from idp.models.user import User
from idp.oidc import access_tokens, claims
from idp.oidc.access_tokens import JwtAccessToken
from idp.oidc.client_auth import authenticate_basic
from idp.oidc.clients import ClientCache
from idp.oidc.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    S256CodeChallenge,
    opaque_token,
)
from idp.oidc.keys import KeyStore
from idp.oidc.parameter_limits import check_sizes, oversized
from idp.oidc.parameters import refuse_repeated
from idp.oidc.plain_requests import PlainAnswer

FORM_MIMETYPE = "application/x-www-form-urlencoded"
# Run by the driver (OneRowWrite): every token response with a row runs it. inline(): no
# RETURNING of the new id, which nothing reads.
INSERT_TOKEN = OneRowWrite(
    insert(cast("Table", Token.__table__)).inline(),
    keys=(
        "client_id",
        "user_id",
        "family",
        "code_id",
        "parent_id",
        "sid",
        "claims",
        "jti",
        "authentication",
        "access_token_hash",
        "refresh_token_hash",
        "token_type",
        "scope",
        "refresh_scope",
        "issued_at",
        "expires_in",
        "refresh_expires_at",
    ),
)


class Server(AuthorizationServer):
    """Authlib's Flask server, aware of our settings and able to replay a stored request."""

    clients: ClientCache
    userinfo: UserInfo  # also asked directly by idp.web.protocol_shortcut

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        super().__init__()
        self.settings = settings
        self.keys = keys

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        """A stored authorization request (dict of params) resumes after sign-in."""
        if isinstance(request, dict):
            oauth_request = OAuth2Request("GET", self.settings.issuer + "/authorize")
            oauth_request.payload = BasicOAuth2Payload(request)
            return oauth_request
        if isinstance(request, OAuth2Request):
            return request  # built once per request (its URL and transport check cost)
        return super().create_oauth2_request(request)

    def get_consent_grant(self, request: Any = None, end_user: Any = None) -> Any:
        """Authlib's validation, after refusing parameters too long to keep."""
        oauth_request = self.create_oauth2_request(request)
        data = oauth_request.payload.data
        if oversized(data) is not None:
            check_sizes(data, redirect_uri=self._registered_redirect_uri(oauth_request))
        return super().get_consent_grant(request, end_user)

    def create_token_response(self, request: Any = None) -> Any:
        """Authlib's token endpoint, after refusing repeated parameters (RFC 6749 3.2)."""
        oauth_request = self.create_oauth2_request(request)
        try:
            refuse_repeated(oauth_request)
        except InvalidRequestError as error:
            return self.handle_error_response(oauth_request, error)
        return super().create_token_response(oauth_request)

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Any:
        """Flask's Response in a Flask request; before Flask (idp.web.protocol_shortcut), the
        same status, bytes and headers as a PlainAnswer, without building a Response."""
        if has_request_context():
            return super().handle_response(status_code, payload, headers)
        return PlainAnswer(status_code, payload, list(headers or ()))

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Persist issued tokens (hashed)."""
        store_token(token, request, settings=self.settings)

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        """Authlib's lookup, without echoing an unprintable response_type into the error.

        Authlib copies response_type into error_description, whose characters RFC 6749
        5.2 restricts; a quote or non-ASCII letter there would raise (a 500).
        """
        response_type = request.payload.response_type or ""
        if not invalid_error_characters(response_type):
            return super().get_authorization_grant(request)
        error = UnsupportedResponseTypeError("", "Unsupported 'response_type'.")
        error.redirect_uri = self._registered_redirect_uri(request)
        raise error

    def _registered_redirect_uri(self, request: OAuth2Request) -> str | None:
        """Where an error may be sent: only a URI registered for a known client."""
        client = self.query_client(request.payload.client_id or "")
        if client is None:
            return None
        uri = request.payload.redirect_uri
        if uri:
            return uri if client.check_redirect_uri(uri) else None
        return client.get_default_redirect_uri()


class IdToken(OpenIDCode):
    """Signs ID tokens with the key store; claims per OIDC Core 2 and DESIGN.md."""

    def __init__(self, server: Server) -> None:
        super().__init__(require_nonce=False)
        self.server = server

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """Nonce replay is the RP's check (OIDC Core 3.1.3.7); the OP echoes it."""
        return False

    def get_client_algorithm(self, client: Client) -> str:
        """The client's registered alg when we hold a key for it, else RS256."""
        alg = client.id_token_signed_response_alg
        return alg if alg in self.server.keys.supported_algs() else "RS256"

    def resolve_client_private_key(self, client: Client) -> Any:
        """Every private key: the signature uses the one the header's kid names.

        Authlib asks for the header and the key separately; were this the active key, a
        rotation landing between the two (another process activating a staged key) would
        sign with a key the header does not name, and no relying party could verify it.
        """
        return self.server.keys.private_keyset()

    def get_encode_header(self, client: Client) -> dict[str, str | None]:
        """alg and kid, so RPs pick the right key from the JWKS."""
        alg = self.get_client_algorithm(client)
        return {"alg": alg, "kid": self.server.keys.signing_key(alg).kid, "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        """iss, aud, azp, iat, exp from the app's clock."""
        issued = epoch(now())
        return {
            "iss": self.server.settings.issuer,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": issued,
            "exp": issued + self.server.settings.id_token_ttl_seconds,
        }

    def get_authorization_code_claims(self, authorization_code: SpentCode) -> dict[str, Any]:
        """nonce, auth_time, acr, amr, sid; user claims come from generate_user_info."""
        result = super().get_authorization_code_claims(authorization_code)
        result["auth_time"] = authorization_code.auth_time
        if authorization_code.sid:
            result["sid"] = authorization_code.sid
        return result

    def generate_user_info(self, user: User | UserClaims, scope: str) -> dict[str, Any]:
        """Scope claims in the ID token as well (the code flow's token is back-channel).

        Only what the granted scope covers: an `id_token` member of the `claims`
        parameter (OIDC Core 5.5) cannot widen it, see claims.user_info.
        """
        return claims.user_info(user, scope)


class RefreshIdToken(IdToken):
    """A new ID token with a refreshed token set (OIDC Core 12.2), for an openid scope.

    The original sign-in's sub, auth_time, acr, amr and sid (kept with the refresh token),
    a new iat and exp, no nonce; the profile claims stay with userinfo (OIDC Core 5.4), so
    the refresh reads no more than the rotation does.
    """

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        """The ID token for a rotated token set; at_hash of its new access token."""
        client = request.client
        alg = self.get_client_algorithm(client)
        parent = request.refresh_token
        claims: dict[str, Any] = {**self.get_client_claims(client), "sub": request.user.subject}
        for name in ("auth_time", "acr", "amr"):
            value = (parent.authentication or {}).get(name)
            if value:
                claims[name] = value
        if parent.sid:
            claims["sid"] = parent.sid
        at_hash = create_half_hash(token["access_token"], alg)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode()
        # The key looked up once: its kid names it in the header (resolve_client_private_key
        # and get_encode_header would each look again, and could straddle a key rotation).
        key = self.server.keys.signing_key(alg)
        return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, [alg])


class Validator(BearerTokenValidator):
    """Bearer access tokens (RFC 6750): opaque ones looked up by hash, JWTs verified locally."""

    def __init__(self, server: Server) -> None:
        super().__init__()
        self.server = server

    def authenticate_token(self, token_string: str) -> Token | JwtAccessToken | None:
        """The token row or verified JWT, if any; Authlib then checks expiry and revocation."""
        if access_tokens.looks_like_jwt(token_string):
            return verify_jwt(self.server, token_string)
        return Token.by_access_token(token_string)


class UserInfoValidator(Validator):
    """For /userinfo: the token and its user's claims as plain values, one Core statement.

    The same checks as Validator (Authlib then checks expiry, revocation and scope); no ORM
    objects, which cost more than the statement.
    """

    def authenticate_token(self, token_string: str) -> AccessGrant | None:
        """The opaque token's row with its user, or the verified JWT with its user."""
        if not access_tokens.looks_like_jwt(token_string):
            return bearer.access_grant(token_string)
        srv = self.server
        at = now()  # one clock read: exp checked here, then by Authlib's is_expired
        claims = access_tokens.verified_claims(
            token_string, keys=srv.keys, settings=srv.settings, clients=srv.clients, at=at
        )
        if claims is None:
            return None
        user: UserClaims | None = None
        if claims["sub"] == claims["client_id"]:
            listed = bearer.jti_listed(claims["jti"])
        else:
            found = bearer.user_unless_listed(claims["sub"], claims["jti"])
            if found is None:
                return None
            user, listed = found
        if listed:
            return None
        return AccessGrant(
            client_id=claims["client_id"],
            scope=claims.get("scope") or "",
            expires_at=datetime.fromtimestamp(claims["exp"], UTC).replace(tzinfo=None),
            revoked=False,
            user=user,
            checked_at=at,
        )


class BearerProtector(ResourceProtector):
    """Bearer tokens in the Authorization header (RFC 6750 2.1) or a form body (2.2)."""

    def parse_request_authorization(self, request: Any) -> tuple[BearerTokenValidator, str]:
        """The header when present; else `access_token` of a form-encoded POST body.

        OIDC Core 5.3.1 lets RPs send the token either way; Authlib reads only the header.
        """
        if "Authorization" in request.headers or request.method != "POST":
            return super().parse_request_authorization(request)
        if flask_request.mimetype != FORM_MIMETYPE:
            return super().parse_request_authorization(request)
        token = flask_request.form.get("access_token")
        if not token:
            return super().parse_request_authorization(request)
        return self.get_token_validator("bearer"), token


class UserInfo(UserInfoEndpoint):
    """OIDC Core 5.3; claims by the token's granted scope, whatever the `claims` request."""

    def get_issuer(self) -> str:
        """The issuer, for signed responses."""
        return self.server.settings.issuer

    def generate_user_info(self, user: User | UserClaims, scope: str) -> dict[str, Any]:
        """Claims the token's scope covers (a `userinfo` claims request cannot widen it)."""
        return claims.user_info(user, scope)

    def __call__(self, request: Any) -> Any:
        """Authlib's UserInfoEndpoint.__call__, with the token looked up once, not twice.

        A disabled user's or client's token is refused like an unknown one (RFC 6750 3.1).
        """
        return self.answer(self.resource_protector.acquire_token("openid"))

    def answer(self, token: AccessGrant) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """The claims for a valid token with the openid scope, or InvalidTokenError."""
        user = token.get_user()
        client = self.server.clients.get(token.client_id)
        if user is None or not user.is_active or client is None:
            raise InvalidTokenError()
        # Plain JSON (OIDC Core 5.3.2): no client registers userinfo_signed_response_alg.
        return 200, self.generate_user_info(user, token.scope), default_json_headers


class Revocation(RevocationEndpoint):
    """RFC 7009; revoking a refresh token ends its whole family."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def query_token(
        self, token_string: str, token_type_hint: str | None
    ) -> Token | JwtAccessToken | None:
        """Find by either kind, trying the hinted one first; a JWT access token is verified."""
        if access_tokens.looks_like_jwt(token_string):
            return verify_jwt(self.server, token_string)
        lookups = [Token.by_access_token, Token.by_refresh_token]
        if token_type_hint == "refresh_token":
            lookups.reverse()
        for lookup in lookups:
            found = lookup(token_string)
            if found is not None:
                found._presented_refresh = lookup is Token.by_refresh_token
                return found
        return None

    def revoke_token(self, token: Token | JwtAccessToken, request: Any) -> None:
        """Access token: that token. Refresh token: every token of the grant.

        A JWT's row (user grants) is revoked too, and its jti listed until it expires.
        """
        if isinstance(token, JwtAccessToken):
            Token.revoke_where(Token.jti == token.jti)
            RevokedAccessToken.record([(token.jti, token.expires_at)])
        elif getattr(token, "_presented_refresh", False):
            Token.revoke_where(Token.family == token.family)
        else:
            Token.revoke_where(Token.id == token.id)
        commit_unless_in_request()


class Introspection(IntrospectionEndpoint):
    """RFC 7662 for the client a token was issued to."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        """Returns (kind, token) so refresh tokens are judged by their own expiry."""
        if access_tokens.looks_like_jwt(token_string):
            verified = verify_jwt(self.server, token_string)
            return ("jwt", verified) if verified is not None else None
        access = Token.by_access_token(token_string)
        if access is not None:
            return ("access_token", access)
        refresh = Token.by_refresh_token(token_string)
        return ("refresh_token", refresh) if refresh is not None else None

    def check_permission(self, token: Any, client: Client, request: Any) -> bool:
        """A client may introspect only its own tokens."""
        return token[1].client_id == client.client_id

    def create_introspection_payload(self, token: Any) -> dict[str, Any]:
        """active=false for anything unknown, expired, revoked or not the caller's."""
        if not token:
            return {"active": False}
        kind, item = token
        if kind == "jwt":
            return jwt_payload(item)
        at = now()
        exp: int | None
        if kind == "access_token":
            alive = item.access_revoked_at is None and at < item.expires_at
            exp = epoch(item.expires_at)
        else:
            alive = item.refresh_usable(at)
            exp = epoch(item.refresh_expires_at) if item.refresh_expires_at else None
        if not alive or (item.user is not None and not item.user.is_active):
            return {"active": False}
        payload: dict[str, Any] = {
            "active": True,
            "client_id": item.client_id,
            "scope": item.scope if kind == "access_token" else item.granted_scope,
            "token_type": "Bearer" if kind == "access_token" else "refresh_token",
            "iat": epoch(item.issued_at),
            "iss": self.server.settings.issuer,
            "aud": item.client_id,
        }
        if exp is not None:
            payload["exp"] = exp
        if item.user is not None:
            payload["sub"] = item.user.subject
            payload["username"] = item.user.email
        return payload

    def introspect_token(self, token: Any) -> dict[str, Any]:
        """Unused: create_introspection_payload answers directly."""
        return self.create_introspection_payload(token)


def verify_jwt(server: Server, value: str) -> JwtAccessToken | None:
    """A JWT access token verified with this server's keys, settings and clients."""
    return access_tokens.verify(
        value, keys=server.keys, settings=server.settings, clients=server.clients
    )


def jwt_payload(token: JwtAccessToken) -> dict[str, Any]:
    """RFC 7662 2.2 for a verified JWT: its own claims, active while its user is."""
    if token.user is not None and not token.user.is_active:
        return {"active": False}
    names = ("iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope")
    payload: dict[str, Any] = {"active": True, "token_type": "Bearer"}
    payload.update({name: token.claims[name] for name in names if name in token.claims})
    payload.update({n: token.claims[n] for n in ("auth_time", "acr", "amr") if n in token.claims})
    if token.user is not None:
        payload["username"] = token.user.email
    return payload


class EndSession(EndSessionEndpoint):
    """RP-Initiated Logout 1.0; the web layer ends the browser session."""

    def get_server_jwks(self) -> Any:
        """Our own keys verify the id_token_hint."""
        return self.server.keys.private_keyset()

    def end_session(self, end_session_request: Any) -> None:
        """The web layer clears the browser session; nothing protocol-side to do."""


class Issuer(IssuerParameter):
    """RFC 9207: `iss` on every authorization response."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        """The issuer identifier."""
        return self.issuer


def store_token(token: dict[str, Any], request: Any, *, settings: Settings) -> None:
    """Store hashes of the issued tokens, in the family of the grant they came from.

    A JWT access token without a user (client credentials) is stored nowhere: it is
    verified by signature, and revoking it lists its jti (RFC 9068, DESIGN.md).
    """
    jti = getattr(request, "access_token_jti", None)
    user = request.user if isinstance(request.user, User | UserClaims | Owner) else None
    if jti is not None and user is None:
        count_token(request.payload.grant_type)
        return
    code: SpentCode | None = request.authorization_code
    parent: Token | SpentRefresh | None = request.refresh_token
    at = now()
    if parent is not None:
        family, code_id, sid, requested = parent.family, parent.code_id, parent.sid, parent.claims
    elif code is not None:
        family, code_id, sid, requested = f"code-{code.id}", code.id, code.sid, code.claims
    else:
        family, code_id, sid, requested = secrets.token_hex(16), None, "", None
    refresh = token.get("refresh_token")
    scope = token.get("scope", "")
    # A successor keeps its parent's grant whatever this access token was narrowed to.
    granted = parent.granted_scope if parent is not None and refresh else scope
    ttl = timedelta(days=settings.refresh_token_ttl_days)
    # One INSERT, compiled once: nothing reads the row back in this request, so no ORM unit
    # of work, and no statement built per call.
    INSERT_TOKEN.run(
        db.session.connection(),
        dict(
            client_id=request.client.client_id,
            user_id=user.id if user is not None else None,
            family=family,
            code_id=code_id,
            parent_id=parent.id if parent is not None else None,
            sid=sid,
            claims=requested,
            jti=jti,
            authentication=access_tokens.sign_in_context(request),
            access_token_hash=sha256_hex(token["access_token"]),
            refresh_token_hash=sha256_hex(refresh) if refresh else None,
            token_type="Bearer",  # noqa: S106 (RFC 6750: the type, not a secret)
            scope=scope,
            refresh_scope=granted if granted != scope else None,
            issued_at=at,
            expires_in=int(token["expires_in"]),
            refresh_expires_at=at + ttl if refresh else None,
        ),
    )
    commit_unless_in_request()
    count_token(request.payload.grant_type)


def init_oidc(app: Flask, settings: Settings, keys: KeyStore) -> Server:
    """Create this app's authorization server and register grants and endpoints."""
    # Authlib's format (42 and 48 letters and digits) without its one urandom call per character.
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = lambda *_, **__: opaque_token(42)
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = lambda *_, **__: opaque_token(48)
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "authorization_code": settings.access_token_ttl_seconds,
        "refresh_token": settings.access_token_ttl_seconds,
        "client_credentials": settings.access_token_ttl_seconds,
    }
    server = Server(settings, keys)

    def query_client(client_id: str) -> Client | None:
        # No registered id holds a NUL, and PostgreSQL text cannot: unknown, not a 500.
        if not client_id or "\x00" in client_id:
            return None
        return server.clients.get(client_id)

    server.clients = ClientCache()
    server.init_app(app, query_client=query_client)
    server.register_client_auth_method("client_secret_basic", authenticate_basic)
    server.register_grant(
        AuthorizationCodeGrant, [S256CodeChallenge(required=True), IdToken(server)]
    )
    server.register_grant(RefreshTokenGrant, [RefreshIdToken(server)])
    server.register_grant(ClientCredentialsGrant)
    server.register_extension(Issuer(settings.issuer))
    protector = BearerProtector()
    protector.register_token_validator(Validator(server))
    userinfo_protector = BearerProtector()
    userinfo_protector.register_token_validator(UserInfoValidator(server))
    server.userinfo = UserInfo(resource_protector=userinfo_protector)
    server.register_endpoint(server.userinfo)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    server.register_endpoint(EndSession)
    server.resource_protector = protector
    app.extensions["idp.oidc"] = server
    return server
