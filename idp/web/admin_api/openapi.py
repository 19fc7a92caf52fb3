"""The admin API's OpenAPI 3.1 document, built from the services' own field rules."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from idp.manage.audit_log import PAGE_SIZE
from idp.web.admin_api import PROBLEM, bp, no_store
from idp.web.admin_api.schemas import ref, schemas, text


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": ref(schema)}}


def _op(
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
    found: dict[str, Any] = {"summary": summary, "responses": responses}
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
                "List clients",
                200,
                "ClientList",
                params=[_query("q", text(120), "Name or client_id contains")],
            ),
            "post": _op(
                "Register a client (its secret is in the answer, once)",
                201,
                "Client",
                body="ClientCreate",
                errors=(409, 415, 422),
            ),
        },
        "/clients/{client_id}": {
            "parameters": cid,
            "get": _op("One client", 200, "Client", errors=(404,)),
            "patch": _op(
                "Change a client", 200, "Client", body="ClientPatch", errors=(404, 409, 415, 422)
            ),
            "delete": _op("Delete a client (revokes its tokens)", 204, None, errors=(404,)),
        },
        "/users": {
            "get": _op(
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
                "Create a user (and email an invitation)",
                201,
                "User",
                body="UserCreate",
                errors=(409, 415, 422, 503),
            ),
        },
        "/users/{user_id}": {
            "parameters": uid,
            "get": _op("One user, with factors and trusted devices", 200, "User", errors=(404,)),
            "patch": _op(
                "Change names, locale or roles",
                200,
                "User",
                body="UserPatch",
                errors=(404, 415, 422),
            ),
            "delete": _op("Delete a user (audit events are kept)", 204, None, errors=(404, 409)),
        },
        "/audit-events": {
            "get": _op(
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
    upload = _op("Upload the logo (the image is the body)", 200, "Client", errors=(404, 415, 422))
    upload["requestBody"] = {
        "required": True,
        "content": {kind: image for kind in ("image/png", "image/jpeg", "image/webp")},
    }
    paths["/clients/{client_id}/logo"] = {
        "parameters": cid,
        "put": upload,
        "delete": _op("Remove the logo (the global one shows)", 200, "Client", errors=(404,)),
    }
    client_actions = {
        "rotate-secret": "New secret (in the answer, once); the old one stops working",
        "disable": "Disable (revokes its tokens)",
        "enable": "Enable",
    }
    for action, summary in client_actions.items():
        paths[f"/clients/{{client_id}}/{action}"] = {
            "parameters": cid,
            "post": _op(summary, 200, "Client", errors=(404, 409)),
        }
    user_actions = {
        "disable": "Disable (ends sessions, tokens and trusted devices)",
        "enable": "Enable",
        "unlock": "Lift password and second-factor lock-outs",
        "reset-mfa": "Remove factors, recovery codes and trust; sign out; email the user",
        "invite": "Email a fresh activation link",
        "revoke-trusted-devices": "End trust for all of the user's devices",
        "grant-admin": "Give the admin role",
        "revoke-admin": "Take the admin role away",
    }
    for action, summary in user_actions.items():
        paths[f"/users/{{user_id}}/{action}"] = {
            "parameters": uid,
            "post": _op(summary, 200, "User", errors=(404, 409, 503)),
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


def document_response() -> Response:
    """The document as JSON, built once per app."""
    cached = current_app.extensions.get("idp.admin_openapi")
    if cached is None:
        settings = current_app.extensions["idp.settings"]
        cached = document(settings.issuer, settings.trust_ceiling_days)
        current_app.extensions["idp.admin_openapi"] = cached
    return no_store(jsonify(cached))


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """This API's OpenAPI 3.1 document."""
    return document_response()
