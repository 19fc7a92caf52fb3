"""A relying party registered with the provider."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, list_to_scope, scope_to_list
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, select, true
from sqlalchemy.orm import Mapped, mapped_column

from idp.clock import now
from idp.extensions import Model, db
from idp.models.hashing import matches, sha256_hex

CONFIDENTIAL_METHODS = ("client_secret_basic", "client_secret_post")


class Client(Model, ClientMixin):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(120))
    # Where the stored logo was fetched from (never shown to browsers: no hot-linking).
    logo_uri: Mapped[str] = mapped_column(String(500), default="")
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(40), default="client_secret_basic"
    )
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["authorization_code", "refresh_token"]
    )
    scopes: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["openid", "profile", "email", "offline_access"]
    )
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa_policy: Mapped[str] = mapped_column(String(30), default="any")
    remember_device: Mapped[bool] = mapped_column(Boolean, default=True)
    remember_days: Mapped[int] = mapped_column(Integer, default=30)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    passkey_signin: Mapped[bool] = mapped_column(Boolean, default=True)
    # The "Sign in faster with a passkey" page after a sign-in with a code.
    passkey_offer: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # OIDC Back-Channel Logout 1.0 section 2.2 and Front-Channel Logout 1.0 section 2.
    # Nullable (added later): None reads as "not registered" / False.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500), nullable=True)
    backchannel_logout_session_required: Mapped[bool | None] = mapped_column(
        Boolean, nullable=True, default=False
    )
    frontchannel_logout_uri: Mapped[str | None] = mapped_column(String(500), nullable=True)
    frontchannel_logout_session_required: Mapped[bool | None] = mapped_column(
        Boolean, nullable=True, default=False
    )
    # RFC 9068: "jwt" issues signed access tokens verified without the database; None (rows
    # from before the column) and "opaque" issue random strings looked up by hash.
    access_token_format: Mapped[str | None] = mapped_column(
        String(10), nullable=True, default="opaque", server_default="opaque"
    )
    # Branding on this client's sign-in pages and mail (None: the global branding). The logo's
    # bytes live in client_logos; its SHA-256 here versions the URL and moves the client cache.
    brand_color: Mapped[str | None] = mapped_column(String(7), nullable=True)
    support_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    support_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    support_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    logo_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)

    @property
    def is_public(self) -> bool:
        """A public client has no secret and must use PKCE."""
        return self.token_endpoint_auth_method == "none"

    @property
    def issues_jwt(self) -> bool:
        """Access tokens are RFC 9068 JWTs, not opaque strings."""
        return self.access_token_format == "jwt"

    def set_secret(self) -> str:
        """Make a new random secret, store only its hash, and return it once."""
        secret = secrets.token_urlsafe(32)
        self.secret_hash = sha256_hex(secret)
        return secret

    @classmethod
    def by_client_id(cls, client_id: str) -> Client | None:
        """Find an enabled client by its client_id."""
        return db.session.scalar(
            select(cls).where(cls.client_id == client_id, cls.disabled.is_(False))
        )

    # Authlib's ClientMixin ---------------------------------------------
    @property
    def client_metadata(self) -> dict[str, Any]:
        """The registration metadata Authlib's endpoints read."""
        return {
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "redirect_uris": list(self.redirect_uris),
        }

    def get_client_id(self) -> str:
        """The client identifier."""
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """OAuth 2.0 3.1.2.3: only a single registered URI may be implied."""
        if len(self.redirect_uris) == 1:
            return self.redirect_uris[0]
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have, in request order."""
        if not scope:
            return ""
        allowed = set(self.scopes)
        return list_to_scope([s for s in scope_to_list(scope) if s in allowed])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string match against a registered URI (OIDC Core 3.1.2.1)."""
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        """Constant-time comparison of the secret's SHA-256."""
        return matches(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Only the registered authentication method is accepted."""
        if endpoint == "token" or self.is_public:
            return method == self.token_endpoint_auth_method
        # Revocation and introspection: confidential clients may use either secret method.
        return method in CONFIDENTIAL_METHODS

    def check_response_type(self, response_type: str) -> bool:
        """Only the authorization code flow is offered."""
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        """Grant types registered for this client."""
        return grant_type in self.grant_types
