"""The admin API's OpenAPI 3.1 document, built from the services' own field rules."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from idp.manage.audit_log import PAGE_SIZE
from idp.web.admin_api import PROBLEM, bp, no_store
from idp.web.admin_api.schemas import ref, schemas, text


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": ref(schema)}}


TAGS = [
    {"name": "Clients", "description": "Relying parties: register, change, disable, delete."},
    {"name": "Users", "description": "Accounts: create and invite, support, admin role."},
    {"name": "Sessions", "description": "Where a user is signed in, and signing them out."},
    {"name": "Audit", "description": "The audit trail."},
    {"name": "Document", "description": "This description of the API."},
]


def _op(
    operation_id: str,
    tag: str,
    summary: str,
    ok: int,
    schema: str | None,
    *,
    body: str | None = None,
    params: list | None = None,
    errors: tuple[int, ...] = (),
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(ok): {"description": summary, **({"content": _json(schema)} if schema else {})},
        "default": {
            "description": "A problem (RFC 9457)",
            "content": {PROBLEM: {"schema": ref("Problem")}},
        },
    }
    for status in (401, 403, *errors):
        responses[str(status)] = responses["default"]
    found: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "responses": responses,
    }
    if body:
        found["requestBody"] = {"required": True, "content": _json(body)}
    if params:
        found["parameters"] = params
    return found


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _paths() -> dict[str, Any]:
    cid, uid = [_path("client_id")], [_path("user_id")]
    paths: dict[str, Any] = {
        "/clients": {
            "get": _op(
                "listClients",
                "Clients",
                "List clients",
                200,
                "ClientList",
                params=[_query("q", text(120), "Name or client_id contains")],
            ),
            "post": _op(
                "createClient",
                "Clients",
                "Register a client (its secret is in the answer, once)",
                201,
                "Client",
                body="ClientCreate",
                errors=(409, 415, 422),
            ),
        },
        "/clients/{client_id}": {
            "parameters": cid,
            "get": _op("getClient", "Clients", "One client", 200, "Client", errors=(404,)),
            "patch": _op(
                "updateClient",
                "Clients",
                "Change a client",
                200,
                "Client",
                body="ClientPatch",
                errors=(404, 409, 415, 422),
            ),
            "delete": _op(
                "deleteClient",
                "Clients",
                "Delete a client (revokes its tokens)",
                204,
                None,
                errors=(404,),
            ),
        },
        "/users": {
            "get": _op(
                "listUsers",
                "Users",
                "Search users",
                200,
                "UserList",
                params=[
                    _query("q", text(320), "Email or name contains"),
                    _query("limit", {"type": "integer", "minimum": 0, "maximum": 200}, "Page size"),
                    _query("offset", {"type": "integer", "minimum": 0, "maximum": 10**8}, "Skip"),
                ],
                errors=(422,),
            ),
            "post": _op(
                "createUser",
                "Users",
                "Create a user (and email an invitation)",
                201,
                "User",
                body="UserCreate",
                errors=(409, 415, 422, 503),
            ),
        },
        "/users/{user_id}": {
            "parameters": uid,
            "get": _op(
                "getUser",
                "Users",
                "One user, with factors, trusted devices and sessions",
                200,
                "User",
                errors=(404,),
            ),
            "patch": _op(
                "updateUser",
                "Users",
                "Change names, locale or roles",
                200,
                "User",
                body="UserPatch",
                errors=(404, 415, 422),
            ),
            "delete": _op(
                "deleteUser",
                "Users",
                "Delete a user (audit events are kept)",
                204,
                None,
                errors=(404, 409),
            ),
        },
        "/audit-events": {
            "get": _op(
                "listAuditEvents",
                "Audit",
                "Audit events, newest first",
                200,
                "AuditEventList",
                params=[
                    _query("user", text(320), "Email or id (sub)"),
                    _query("client", text(64), "client_id"),
                    _query("event", text(65), "Event name, or prefix ending in *"),
                    _query("since", text(40), "YYYY-MM-DD or ISO 8601 time (UTC)"),
                    _query("until", text(40), "YYYY-MM-DD (inclusive) or ISO 8601 time"),
                    _query(
                        "before",
                        {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                        "Only events with a smaller id",
                    ),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 0, "maximum": 1000},
                        f"Page size (default {PAGE_SIZE})",
                    ),
                ],
                errors=(422,),
            )
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApiDocument",
                "tags": ["Document"],
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    image = {"schema": {"type": "string", "contentMediaType": "image/png", "maxLength": 262144}}
    upload = _op(
        "uploadClientLogo",
        "Clients",
        "Upload the logo (the image is the body)",
        200,
        "Client",
        errors=(404, 415, 422),
    )
    upload["requestBody"] = {
        "required": True,
        "content": {kind: image for kind in ("image/png", "image/jpeg", "image/webp")},
    }
    paths["/clients/{client_id}/logo"] = {
        "parameters": cid,
        "put": upload,
        "delete": _op(
            "deleteClientLogo",
            "Clients",
            "Remove the logo (the global one shows)",
            200,
            "Client",
            errors=(404,),
        ),
    }
    client_actions = {
        "rotate-secret": (
            "rotateClientSecret",
            "New secret (in the answer, once); the old one stops working",
        ),
        "disable": ("disableClient", "Disable (revokes its tokens)"),
        "enable": ("enableClient", "Enable"),
    }
    for action, (operation_id, summary) in client_actions.items():
        paths[f"/clients/{{client_id}}/{action}"] = {
            "parameters": cid,
            "post": _op(operation_id, "Clients", summary, 200, "Client", errors=(404, 409)),
        }
    user_actions = {
        "disable": ("disableUser", "Disable (ends sessions, tokens and trusted devices)"),
        "enable": ("enableUser", "Enable"),
        "unlock": ("unlockUser", "Lift password and second-factor lock-outs"),
        "reset-mfa": (
            "resetUserMfa",
            "Remove factors, recovery codes and trust; sign out; email the user",
        ),
        "invite": ("inviteUser", "Email a fresh activation link"),
        "revoke-trusted-devices": ("revokeUserTrustedDevices", "End trust for all devices"),
        "grant-admin": ("grantAdmin", "Give the admin role"),
        "revoke-admin": ("revokeAdmin", "Take the admin role away"),
    }
    for action, (operation_id, summary) in user_actions.items():
        paths[f"/users/{{user_id}}/{action}"] = {
            "parameters": uid,
            "post": _op(operation_id, "Users", summary, 200, "User", errors=(404, 409, 503)),
        }
    paths["/users/{user_id}/sessions"] = {
        "parameters": uid,
        "get": _op(
            "listUserSessions",
            "Sessions",
            "Where the user is signed in (browser, approximate place, times, apps)",
            200,
            "SessionList",
            errors=(404,),
        ),
    }
    paths["/users/{user_id}/sessions/{sid}"] = {
        "parameters": [*uid, _path("sid")],
        "delete": _op(
            "endUserSession",
            "Sessions",
            "Sign out of one browser: its apps get logout tokens, its tokens are revoked",
            204,
            None,
            errors=(404,),
        ),
    }
    paths["/users/{user_id}/sign-out-everywhere"] = {
        "parameters": uid,
        "post": _op(
            "signOutUserEverywhere",
            "Sessions",
            "End every session, revoke tokens and device trust; the apps are told",
            200,
            "User",
            errors=(404,),
        ),
    }
    return paths


def document(issuer: str, ceiling: int) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Identity provider admin API",
            "version": "1",
            "description": (
                "Manage clients and users. Authenticate with an access token from the "
                "client-credentials grant whose client is allowed the idp:admin scope."
            ),
        },
        "servers": [{"url": f"{issuer}/admin/api/v1"}],
        "tags": TAGS,
        "security": [{"clientCredentials": ["idp:admin"]}],
        "components": {
            "securitySchemes": {
                "clientCredentials": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": f"{issuer}/token",
                            "scopes": {"idp:admin": "Manage clients, users and the audit log"},
                        }
                    },
                }
            },
            "schemas": schemas(ceiling),
        },
        "paths": _paths(),
    }


def app_document() -> dict[str, Any]:
    """This app's document, built once per app."""
    cached = current_app.extensions.get("idp.admin_openapi")
    if cached is None:
        settings = current_app.extensions["idp.settings"]
        cached = document(settings.issuer, settings.trust_ceiling_days)
        current_app.extensions["idp.admin_openapi"] = cached
    return cached


def document_response() -> Response:
    """The document as JSON."""
    return no_store(jsonify(app_document()))


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """This API's OpenAPI 3.1 document."""
    return document_response()
