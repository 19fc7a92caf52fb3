"""The admin API's JSON Schemas (OpenAPI 3.1 components), from the services' field rules."""

from __future__ import annotations

from typing import Any

from idp.manage import clients, users

TEXT = "^[^\\u0000-\\u001f\\u007f]*$"  # no control characters
NULLABLE_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}


def text(max_len: int, **extra: Any) -> dict[str, Any]:
    """A printable string of at most max_len characters."""
    return {"type": "string", "maxLength": max_len, "pattern": TEXT, **extra}


def array(items: dict[str, Any], max_items: int) -> dict[str, Any]:
    """A list of at most max_items items."""
    return {"type": "array", "items": items, "maxItems": max_items}


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def schemas(ceiling: int) -> dict[str, Any]:
    """Every component schema; remember_days is capped by the trust ceiling."""
    uri = text(500, format="uri")
    client_fields = {
        "name": text(120, minLength=1),
        "logo_uri": {
            **text(500),
            "description": (
                "An https URL the provider fetches the logo from once, when saved (PNG, JPEG "
                "or WebP, at most 256 KiB; never a private address), then serves itself. "
                "Empty removes a logo that came from a URL."
            ),
        },
        "redirect_uris": array(uri, clients.MAX_URIS),
        "post_logout_redirect_uris": array(uri, clients.MAX_URIS),
        "token_endpoint_auth_method": {"enum": list(clients.AUTH_METHODS)},
        "grant_types": array({"enum": list(clients.GRANT_TYPES)}, 3),
        "scopes": array({"enum": list(clients.SCOPES)}, 10),
        "first_party": {"type": "boolean", "description": "Skip the consent screen."},
        "mfa_policy": {"enum": list(clients.MFA_POLICIES)},
        "remember_device": {"type": "boolean"},
        "remember_days": {"type": "integer", "minimum": 1, "maximum": ceiling},
        "passkey_signin": {"type": "boolean"},
        "passkey_offer": {
            "type": "boolean",
            "description": "After a sign-in with a code, offer once to create a passkey.",
        },
        "id_token_signed_response_alg": {"enum": list(clients.SIGNING_ALGS)},
        "access_token_format": {
            "enum": list(clients.ACCESS_TOKEN_FORMATS),
            "description": "opaque, or RFC 9068 JWT access tokens (short-lived, at+jwt).",
        },
        "backchannel_logout_uri": {
            **text(500, format="uri"),
            "type": ["string", "null"],
            "description": "OIDC Back-Channel Logout 1.0: where logout tokens are POSTed.",
        },
        "backchannel_logout_session_required": {"type": "boolean"},
        "frontchannel_logout_uri": {
            **text(500, format="uri"),
            "type": ["string", "null"],
            "description": "OIDC Front-Channel Logout 1.0: framed on the signed-out page.",
        },
        "frontchannel_logout_session_required": {"type": "boolean"},
        "brand_color": {
            "type": ["string", "null"],
            "pattern": "^(#[0-9a-fA-F]{6})?$",
            "description": "Primary colour of its sign-in pages and mail; null: the global one.",
        },
        "support_email": {**text(320), "type": ["string", "null"]},
        "support_phone": {
            "type": ["string", "null"],
            "maxLength": 40,
            "pattern": "^(\\+?[0-9][0-9 ().-]{2,38})?$",
        },
        "support_url": {**text(500, format="uri"), "type": ["string", "null"]},
    }
    client = {
        "type": "object",
        "properties": {
            "client_id": {"type": "string"},
            **client_fields,
            "client_type": {"enum": ["public", "confidential"]},
            "disabled": {"type": "boolean"},
            "created_at": NULLABLE_TIME,
            "logo_url": {
                "type": ["string", "null"],
                "description": "Where the provider serves the stored logo; null without one.",
            },
            "client_secret": {
                "type": ["string", "null"],
                "description": "Only in answers that issue a secret; shown once.",
            },
        },
        "required": ["client_id", *client_fields, "client_type", "disabled", "logo_url"],
    }
    profile = {
        "name": text(200),
        "given_name": text(100),
        "family_name": text(100),
        "locale": text(20),
        "roles": array({"type": "string", "pattern": f"^{users.ROLE.pattern}$"}, 20),
    }
    stamp = {"type": "string", "format": "date-time"}
    user = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "The user's `sub`."},
            "email": {"type": "string"},
            "email_verified": {"type": "boolean"},
            **{k: {"type": "string"} for k in ("name", "given_name", "family_name", "locale")},
            "roles": {"type": "array", "items": {"type": "string"}},
            "is_admin": {"type": "boolean"},
            "status": {"enum": list(users.STATUSES)},
            "created_at": NULLABLE_TIME,
            "activated_at": NULLABLE_TIME,
            "disabled_at": NULLABLE_TIME,
            "locked_until": NULLABLE_TIME,
            "mfa_locked_until": NULLABLE_TIME,
            "factors": {"type": "array", "items": {"type": "object"}},
            "recovery_codes_left": {"type": "integer"},
            "trusted_devices": {"type": "array", "items": {"type": "object"}},
            "sessions": {
                "type": "array",
                "items": ref("Session"),
                "description": "Where the user is signed in.",
            },
        },
        "required": ["id", "email", "roles", "is_admin", "status"],
    }
    event = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "at": stamp,
            "event": {"type": "string"},
            "user_id": {"type": ["integer", "null"]},
            "user_sub": {"type": ["string", "null"]},
            "user_email": {"type": ["string", "null"]},
            "client_id": {"type": ["string", "null"]},
            "ip": {"type": ["string", "null"]},
            "user_agent": {"type": ["string", "null"]},
            "detail": {"type": "object"},
        },
        "required": ["id", "at", "event", "detail"],
    }
    field_error = {
        "type": "object",
        "properties": {
            "field": {
                "type": "string",
                "description": "The field's machine name, stable (e.g. remember_days).",
            },
            "message": {
                "type": "string",
                "description": (
                    "For people, naming the field as the console labels it: "
                    '"Remember devices for (days) must be between 1 and 30".'
                ),
            },
            "line": {"type": "integer"},
        },
        "required": ["field", "message"],
    }
    session = {
        "type": "object",
        "description": (
            "A browser the user is signed in with: its place is approximate (city and country"
            " from the IP address, or null without a GeoIP database)."
        ),
        "properties": {
            "sid": {"type": "string", "description": "The session id the apps know (`sid`)."},
            "browser": {"type": "string"},
            "ip": {"type": ["string", "null"]},
            "place": {"type": ["string", "null"]},
            "signed_in_at": NULLABLE_TIME,
            "last_active_at": NULLABLE_TIME,
            "apps": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["sid", "browser", "signed_in_at", "last_active_at", "apps"],
    }
    return {
        "Session": session,
        "SessionList": {
            "type": "object",
            "properties": {"sessions": {"type": "array", "items": ref("Session")}},
            "required": ["sessions"],
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details; `code` is a stable error code.",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"type": "string"},
                "errors": {"type": "array", "items": field_error},
            },
            "required": ["type", "title", "status", "detail", "code"],
        },
        "Client": client,
        "ClientCreate": {
            "type": "object",
            "properties": {
                "client_id": text(64, pattern="^[A-Za-z0-9._~-]{3,64}$"),
                **client_fields,
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        "ClientPatch": {
            "type": "object",
            "properties": client_fields,
            "additionalProperties": False,
        },
        "ClientList": {
            "type": "object",
            "properties": {"clients": {"type": "array", "items": ref("Client")}},
            "required": ["clients"],
        },
        "User": user,
        "UserCreate": {
            "type": "object",
            "properties": {
                "email": text(320, description="An email address; compared case-insensitively."),
                **profile,
                "is_admin": {"type": "boolean"},
                "send_invitation": {"type": "boolean", "default": True},
            },
            "required": ["email"],
            "additionalProperties": False,
        },
        "UserPatch": {"type": "object", "properties": profile, "additionalProperties": False},
        "UserList": {
            "type": "object",
            "properties": {
                "users": {"type": "array", "items": ref("User")},
                "total": {"type": "integer"},
            },
            "required": ["users", "total"],
        },
        "AuditEvent": event,
        "AuditEventList": {
            "type": "object",
            "properties": {
                "events": {"type": "array", "items": ref("AuditEvent")},
                "next_before": {"type": ["integer", "null"]},
            },
            "required": ["events", "next_before"],
        },
    }
