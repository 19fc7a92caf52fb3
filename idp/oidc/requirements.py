"""Turns prompt, max_age, acr_values and claims into the sign-in policy's Requirements."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from joserfc import jwt
from joserfc.errors import JoseError

from idp import untrusted_json
from idp.authn.state import Requirements
from idp.oidc.keys import KeyStore

MAX_AGE_CAP_SECONDS = 100 * 365 * 86400


def parse_prompt(data: Mapping[str, str]) -> set[str]:
    """The set of prompt values (OIDC Core 3.1.2.1)."""
    return set((data.get("prompt") or "").split())


def parse_max_age(data: Mapping[str, str]) -> int | None:
    """max_age in seconds, or None; a malformed value is invalid_request."""
    raw = data.get("max_age")
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequestError("'max_age' must be a non-negative integer") from None
    if value < 0:
        raise InvalidRequestError("'max_age' must be a non-negative integer")
    return value


def parse_claims(data: Mapping[str, str]) -> dict[str, Any] | None:
    """The `claims` parameter as a dict (OIDC Core 5.5); malformed JSON is invalid_request."""
    raw = data.get("claims")
    if not raw:
        return None
    try:
        value = untrusted_json.loads(raw)
    except ValueError:
        raise InvalidRequestError("'claims' must be a JSON object") from None
    if not isinstance(value, dict) or any(
        k in value and not isinstance(value[k], dict) for k in ("userinfo", "id_token")
    ):
        raise InvalidRequestError("'claims' must be a JSON object")
    return value


def requested_acr(
    data: Mapping[str, str], claims: dict[str, Any] | None
) -> tuple[tuple[str, ...], bool]:
    """acr values asked for, and whether they are essential (OIDC Core 5.5.1.1)."""
    acr_claim = ((claims or {}).get("id_token") or {}).get("acr")
    if isinstance(acr_claim, dict) and (acr_claim.get("value") or acr_claim.get("values")):
        values = acr_claim.get("values") or [acr_claim.get("value")]
        values = [v for v in values if isinstance(v, str)]
        return tuple(values), bool(acr_claim.get("essential"))
    return tuple((data.get("acr_values") or "").split()), False


def build_requirements(
    data: Mapping[str, str], *, started_at: datetime
) -> tuple[Requirements, dict[str, Any] | None]:
    """Requirements for the policy plus the parsed claims parameter.

    The password must be newer than the request's start for prompt=login, and at most
    max_age old at that start; measuring from the start (not from now) means a slow
    typist is not sent round the loop again.
    """
    prompts = parse_prompt(data)
    max_age = parse_max_age(data)
    claims = parse_claims(data)
    not_before: datetime | None = None
    if "login" in prompts:
        not_before = started_at
    if max_age is not None:
        # Any larger max_age means "no limit" in practice; capping keeps the date arithmetic
        # from overflowing (a 40-digit max_age must be an OAuth answer, not a 500).
        limit = started_at - timedelta(seconds=min(max_age, MAX_AGE_CAP_SECONDS))
        not_before = max(not_before, limit) if not_before else limit
    acr_values, essential = requested_acr(data, claims)
    return (
        Requirements(
            prompt_none="none" in prompts,
            password_not_before=not_before,
            acr_values=acr_values,
            acr_essential=essential,
        ),
        claims,
    )


def hinted_subject(data: Mapping[str, str], keys: KeyStore, issuer: str) -> str | None:
    """The `sub` of an id_token_hint we issued (expired is fine: OIDC Core 3.1.2.1)."""
    hint = data.get("id_token_hint")
    if not hint:
        return None
    try:
        token = jwt.decode(hint, keys.private_keyset(), algorithms=keys.supported_algs())
    except (JoseError, ValueError):
        raise InvalidRequestError("'id_token_hint' is not an ID token we issued") from None
    claims = token.claims
    subject = claims.get("sub")
    if claims.get("iss") != issuer or not isinstance(subject, str):
        raise InvalidRequestError("'id_token_hint' is not an ID token we issued")
    return subject
