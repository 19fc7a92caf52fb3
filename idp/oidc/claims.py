"""Which user claims a client receives, by scope and by the `claims` request parameter."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core import UserInfo

from idp.clock import epoch
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


def all_claims(user: User) -> dict[str, Any]:
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


def requested_claims(claims_param: dict[str, Any] | None, target: str) -> set[str]:
    """Claim names asked for individually in the `claims` parameter (OIDC Core 5.5)."""
    if not claims_param or not isinstance(claims_param.get(target), dict):
        return set()
    return {name for name in claims_param[target] if isinstance(name, str)}


def user_info(
    user: User, scope: str, claims_param: dict[str, Any] | None = None, target: str = "userinfo"
) -> UserInfo:
    """Claims for the userinfo response or ID token: by scope plus individually requested."""
    wanted: set[str] = set()
    for s in scope_to_list(scope or ""):
        wanted.update(SCOPE_CLAIMS.get(s, ()))
    wanted |= requested_claims(claims_param, target) & set(CLAIMS_SUPPORTED)
    known = all_claims(user)
    info = UserInfo(sub=user.subject)
    for name in sorted(wanted):
        if name in known:
            info[name] = known[name]
    return info
