"""Authlib grants bound to our models: single-use codes, rotating refresh tokens."""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import grants, scope_to_list
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from authlib.oidc.core.grants.util import is_openid_scope

from idp import audit
from idp.authn import session_end
from idp.authn.state import Authentication
from idp.clock import epoch, now
from idp.database import commit_unless_in_request
from idp.extensions import db
from idp.models.authorization_code import AuthorizationCode, SpentCode
from idp.models.bearer import UserClaims
from idp.models.hashing import sha256_hex
from idp.models.token import Owner, SpentRefresh, Token
from idp.models.user import User
from idp.oidc import access_tokens
from idp.oidc.parameters import refuse_repeated

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
TOKEN_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class SignedIn:
    """What the sign-in hands the protocol layer: who, how, in which browser session."""

    user: User
    authentication: Authentication
    sid: str
    claims: dict[str, Any] | None = None


def opaque_token(length: int) -> str:
    """`length` characters drawn uniformly from letters and digits (log2(62) bits each)."""
    chars: list[str] = []
    while len(chars) < length:
        # 248 = 4 * 62: dropping the bytes above keeps every character equally likely.
        chars += [TOKEN_ALPHABET[b % 62] for b in os.urandom(length + 16) if b < 248]
    return "".join(chars[:length])


class S256CodeChallenge(CodeChallenge):
    """PKCE limited to S256 (RFC 9700 2.1.1), and mandatory for public clients."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        """Reject `plain` or a missing method, and a public client without a challenge."""
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        if challenge and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        if not challenge and grant.request.client.is_public:
            raise InvalidRequestError("PKCE (code_challenge with S256) is required")


class AccessTokenFormat(grants.BaseGrant):
    """RFC 9068 JWT access tokens for clients registered with access_token_format "jwt".

    The refresh token (if any) stays opaque; store_token keeps the jti with the row, so
    revoking the row also lists the JWT as revoked.
    """

    def generate_token(
        self,
        user: User | UserClaims | Owner | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """Authlib's token, with a signed access token and its lifetime for a jwt client."""
        client = self.request.client
        if not client.issues_jwt:
            return super().generate_token(
                user, scope, grant_type, expires_in, include_refresh_token
            )
        settings = self.server.settings
        ttl = settings.jwt_access_token_ttl_seconds
        token: dict[str, Any] = super().generate_token(
            user, scope, grant_type, ttl, include_refresh_token
        )
        issued = access_tokens.issue(
            keys=self.server.keys,
            settings=settings,
            client_id=client.client_id,
            subject=user.subject if isinstance(user, User | UserClaims | Owner) else None,
            scope=token.get("scope", ""),
            authentication=access_tokens.sign_in_context(self.request),
        )
        token["access_token"] = issued.value
        self.request.access_token_jti = issued.jti
        return token


class AuthorizationCodeGrant(AccessTokenFormat, grants.AuthorizationCodeGrant):
    """RFC 6749 4.1 with codes stored hashed, single use, and replay revocation."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    _spent: SpentCode | None = None  # the code this request spent, until the response

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: Any) -> str:
        """Exact match; an OpenID request must name its redirect_uri (OIDC Core 3.1.2.1).

        Authlib falls back to a client's only registered URI, which plain OAuth allows.
        """
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri and is_openid_scope(request.payload.scope):
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        if redirect_uri and not client.check_redirect_uri(redirect_uri):
            # Authlib would echo the URI into error_description, where RFC 6749 5.2
            # forbids quotes and non-ASCII: a crafted URI must not make a 500.
            raise InvalidRequestError("'redirect_uri' is not registered for this client.")
        return grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(request, client)

    def validate_authorization_request(self) -> str:
        """Authlib's checks, any repeated parameter, then request objects (refused, not ignored).

        OIDC Core 6: discovery says request(_uri)_parameter_supported is false, and
        3.1.2.6 names the errors; ignoring would drop whatever the RP put in them.
        """
        redirect_uri = super().validate_authorization_request()
        # Authlib refuses five repeated names (and the PKCE pair); RFC 6749 3.1 means all.
        # The client and redirect_uri are trusted by now, so the error may go there.
        refuse_repeated(self.request, redirect_uri=redirect_uri, state=self.request.payload.state)
        data = self.request.payload.data
        if data.get("request"):
            raise RequestNotSupportedError(redirect_uri=redirect_uri)
        if data.get("request_uri"):
            raise RequestURINotSupportedError(redirect_uri=redirect_uri)
        return redirect_uri

    def generate_authorization_code(self) -> str:
        """Authlib's format (48 letters and digits) without its one urandom call per character."""
        return opaque_token(self.AUTHORIZATION_CODE_LENGTH)

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Persist the code's hash with who signed in and how (amr, acr, auth_time)."""
        signed_in: SignedIn = request.user
        data = request.payload.data
        at = now()
        authn = signed_in.authentication
        AuthorizationCode.issue(
            code_hash=sha256_hex(code),
            client_id=request.client.client_id,
            user_id=signed_in.user.id,
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            claims=signed_in.claims,
            auth_time=epoch(authn.auth_time),
            acr=authn.acr,
            amr=list(authn.amr),
            sid=signed_in.sid,
            created_at=at,
            expires_at=at + timedelta(seconds=self.server.settings.code_ttl_seconds),
            used_at=None,
        )
        # Back-Channel Logout 1.0 section 2.1: the session's end reaches every client it served.
        session_end.served(
            sid=signed_in.sid, user_id=signed_in.user.id, client_id=request.client.client_id, at=at
        )
        commit_unless_in_request()

    def validate_token_request(self) -> None:
        """Authlib's checks; a code spent for a request they then refuse is given back."""
        try:
            super().validate_token_request()
        except OAuth2Error:
            if self._spent is not None:
                AuthorizationCode.unspend(self._spent.id)
            raise

    def query_authorization_code(self, code: str, client: Any) -> SpentCode | None:
        """A live code, spent by the statement that finds it; a used one is a replay and
        revokes what it issued (RFC 6749 4.1.2).

        Spent here, before Authlib compares the redirect_uri and the PKCE verifier: of
        concurrent redemptions exactly one finds the code live. A request those checks refuse
        gives it back (validate_token_request), so a wrong verifier burns nothing, as before.
        """
        spent = AuthorizationCode.spend_live(code, client.client_id, at=now())
        if spent is not None:
            self._spent = spent
            return spent
        item = AuthorizationCode.find(code, client.client_id)
        if item is not None and item.used_at is not None:
            self._revoke_replayed(item)
        return None  # unknown, another client's, or expired

    def _revoke_replayed(self, item: AuthorizationCode) -> None:
        count = Token.revoke_where(Token.code_id == item.id)
        audit.record(
            "authorization_code.replayed",
            user_id=item.user_id,
            client_id=item.client_id,
            tokens_revoked=count,
        )

    def generate_token(
        self,
        user: User | UserClaims | Owner | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """OIDC Core 11: a refresh token only when offline_access was granted."""
        include = include_refresh_token and "offline_access" in scope_to_list(scope or "")
        return super().generate_token(user, scope, grant_type, expires_in, include)

    def delete_authorization_code(self, authorization_code: SpentCode) -> None:
        """Kept (marked used) so a replay can be detected and its tokens revoked."""

    def authenticate_user(self, authorization_code: SpentCode) -> UserClaims | None:
        """The code's user, unless disabled since (the code stays spent)."""
        user = authorization_code.user
        return user if user.is_active else None


class RefreshTokenGrant(AccessTokenFormat, grants.RefreshTokenGrant):
    """RFC 6749 6 with rotation; a reused refresh token revokes its whole family.

    RFC 9700 4.14.2 reuse detection, softened for retries: for a few seconds after rotation
    (`refresh_reuse_grace_seconds`) the same client may present the previous token again,
    while the token it got is still unused. It gets a fresh pair and the unused one is
    revoked, so one live refresh token remains per family.

    Two uses of one token at once: the spend is the lookup, so the second waits for the first
    to commit (PostgreSQL's row lock) and is then judged like any later use: a retry within
    the grace, else a replay that revokes the family (tests/oidc/test_concurrent_redemption.py).
    """

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    _lost_child: Token | None = None  # set when the request is a retry within the grace
    _presented = ""  # the refresh token as the request gave it

    def authenticate_refresh_token(self, refresh_token: str) -> Token | SpentRefresh | None:
        """A usable refresh token, or a retry within the grace; a replayed one signals theft.

        Usually spent here, in the statement that finds it: its client, its user's being
        active and its expiry are conditions of that UPDATE. A request that narrows the scope
        is checked first and spent after (Authlib refuses a widening after this returns), and
        whatever the UPDATE did not match is read back to tell why, as below.
        """
        self._presented = refresh_token
        if not self.request.payload.scope:
            client_id = self.request.client.client_id
            spent = Token.spend_usable(refresh_token, client_id=client_id, at=now())
            if spent is not None:
                return spent
        item = Token.for_rotation(refresh_token)
        if item is None:
            return None
        if item.refresh_revoked_at is not None:
            self._lost_child = self._retried(item)
            if self._lost_child is not None:
                return item
            self._refuse_spent(item)
            return None
        if not item.refresh_usable(now()):
            return None
        return item

    def _retried(self, item: Token) -> Token | None:
        """The unused child of a token rotated moments ago, presented by the same client."""
        grace = self.server.settings.refresh_reuse_grace_seconds
        at = now()
        if not grace or item.refresh_rotated_at is None:
            return None
        if at >= item.refresh_rotated_at + timedelta(seconds=grace):
            return None
        if item.refresh_expires_at is not None and at >= item.refresh_expires_at:
            return None
        if item.client_id != self.request.client.client_id:
            return None
        return Token.live_child(item)

    def _refuse_spent(self, item: Token) -> None:
        """Replay of a rotated token revokes its family; a revoked one is only recorded."""
        if item.refresh_rotated_at is None:
            # Revoked (RFC 7009, logout, an admin, an earlier replay): an RP that did not
            # forget it, not a thief; there is nothing left to revoke.
            audit.record(
                "refresh_token.revoked_presented", user_id=item.user_id, client_id=item.client_id
            )
            return
        self._revoke_family(item)

    def _revoke_family(self, item: Token) -> None:
        count = Token.revoke_where(Token.family == item.family)
        audit.record(
            "refresh_token.reused",
            user_id=item.user_id,
            client_id=item.client_id,
            tokens_revoked=count,
        )

    def create_token_response(self) -> Any:
        """Rotate atomically: the old refresh token is spent before the new one exists.

        A retry withdraws the unused pair it replaces, also atomically: of two concurrent
        retries (or a retry racing the child's own use) one wins, the other gets invalid_grant.
        """
        item: Token | SpentRefresh = self.request.refresh_token
        if isinstance(item, SpentRefresh):
            return super().create_token_response()  # spent, its user active: one statement
        at = now()
        # Before anything is spent: a refused request's writes are committed with it (the
        # family revocation below must be), so a token of a disabled user stays as it was.
        if self.authenticate_user(item) is None:
            raise InvalidGrantError(description="The token's user is disabled.")
        if self._lost_child is None and not Token.spend_refresh(item.id, at):
            # A concurrent use spent it between the read and this statement (a request naming
            # a scope reads first): judged as any later use is, as spend_usable's loser is.
            db.session.rollback()
            item = self._judged_again()
        if self._lost_child is not None:
            if not Token.withdraw(self._lost_child.id, at):
                db.session.rollback()
                raise InvalidGrantError()
            assert item.refresh_rotated_at is not None  # it has a child: it was rotated
            audit.record(
                "refresh_token.retried",
                user_id=item.user_id,
                client_id=item.client_id,
                seconds_since_rotation=int((at - item.refresh_rotated_at).total_seconds()),
            )
        return super().create_token_response()

    def _judged_again(self) -> Token:
        """The presented token read again after losing a race: a retry within the grace (its
        winner's pair is then withdrawn), else a replay that revokes the family."""
        item = Token.for_rotation(self._presented)
        self._lost_child = self._retried(item) if item is not None else None
        if item is None or self._lost_child is None:
            if item is not None:
                self._refuse_spent(item)
            raise InvalidGrantError()
        self.request.refresh_token = item
        return item

    def _validate_token_scope(self, token: Token | SpentRefresh) -> None:
        """A requested scope must lie within the grant's (RFC 6749 6), not within the last
        access token's: a refresh that narrowed it does not narrow the grant.

        Authlib's check, against Token.granted_scope rather than get_scope (the access token's,
        which bearer checks read).
        """
        scope = self.request.payload.scope
        if not scope:
            return
        granted = set(scope_to_list(token.granted_scope) or [])
        if not granted or not granted.issuperset(scope_to_list(scope)):
            raise InvalidScopeError()

    def issue_token(self, user: User | Owner, refresh_token: Token | SpentRefresh) -> Any:
        """Authlib's, where no scope asked means the grant's (RFC 6749 6)."""
        scope = self.request.payload.scope or refresh_token.granted_scope
        return self.generate_token(
            user=user, scope=scope, include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN
        )

    def authenticate_user(self, refresh_token: Token | SpentRefresh) -> User | Owner | None:
        """The token's user, unless disabled since."""
        user = refresh_token.user
        return user if user is not None and user.is_active else None

    def revoke_old_credential(self, refresh_token: Token | SpentRefresh) -> None:
        """Already spent in create_token_response."""


class ClientCredentialsGrant(AccessTokenFormat, grants.ClientCredentialsGrant):
    """RFC 6749 4.4 for confidential clients."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012
