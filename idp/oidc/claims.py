"""Which user claims a client receives: those its granted scopes cover."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core import UserInfo

from idp.clock import epoch
from idp.models.bearer import UserClaims
from idp.models.user import User

# OIDC Core 5.4: claims released per scope.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "roles": ("roles",),
}
SCOPES_SUPPORTED = ("openid", "profile", "email", "offline_access", "roles")
CLAIMS_SUPPORTED = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "azp",
    "sid",
    "at_hash",
    "acr",
    "amr",
    "name",
    "given_name",
    "family_name",
    "locale",
    "updated_at",
    "email",
    "email_verified",
    "roles",
)


def all_claims(user: User | UserClaims) -> dict[str, Any]:
    """Every claim the provider knows about the user (empty values left out)."""
    values: dict[str, Any] = {
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "locale": user.locale,
        "updated_at": epoch(user.updated_at) if user.updated_at else None,
        "email": user.email,
        "email_verified": bool(user.email_verified),
        "roles": list(user.roles or []),
    }
    return {k: v for k, v in values.items() if v not in ("", None)}


def covered_claims(scope: str) -> set[str]:
    """Claim names the given scopes cover (OIDC Core 5.4)."""
    names: set[str] = set()
    for s in scope_to_list(scope or "") or []:
        names.update(SCOPE_CLAIMS.get(s, ()))
    return names


def user_info(user: User | UserClaims, scope: str) -> UserInfo:
    """Claims for the userinfo response or ID token: those the granted scope covers.

    The `claims` parameter (OIDC Core 5.5) adds nothing: the user consents to scopes, so
    a claim no granted scope covers was never agreed to, and 5.5.1 lets the OP leave out
    a requested claim. `scope` is the code's or token's, already cut to the client's
    allowed scopes (Authlib's `get_allowed_scope`) and to what the consent page showed.
    """
    known = all_claims(user)
    info = UserInfo(sub=user.subject)
    for name in sorted(covered_claims(scope)):
        if name in known:
            info[name] = known[name]
    return info
