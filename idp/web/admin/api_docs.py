"""Console: the admin API's OpenAPI document, rendered for people (no script, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Response, render_template

from idp.web.admin import bp
from idp.web.admin_api.openapi import app_document, document_response

METHODS = ("get", "post", "patch", "put", "delete")


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path, flattened for the page."""

    method: str
    path: str
    operation_id: str
    summary: str
    parameters: list[dict[str, Any]]
    body: str | None
    responses: list[tuple[str, str, str | None]]  # status, description, schema name


@dataclass(slots=True)
class Tag:
    """A group of operations, in the document's order."""

    name: str
    description: str
    operations: list[Operation] = field(default_factory=list)


def _ref_name(schema: dict[str, Any] | None) -> str | None:
    ref = (schema or {}).get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else None


def _schema_of(content: dict[str, Any] | None) -> str | None:
    for media in (content or {}).values():
        return _ref_name(media.get("schema"))
    return None


def _type_of(schema: dict[str, Any]) -> str:
    """A property's type in a few words: string, integer 1..30, one of a | b, list of X."""
    if "$ref" in schema:
        return _ref_name(schema) or ""
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    kind = schema.get("type", "")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array":
        return f"[{_type_of(schema.get('items', {}))}]"
    if "minimum" in schema or "maximum" in schema:
        kind += f" {schema.get('minimum', '')}..{schema.get('maximum', '')}"
    if "maxLength" in schema:
        kind += f" (≤ {schema['maxLength']})"
    if schema.get("format"):
        kind += f", {schema['format']}"
    return kind


def tags_of(document: dict[str, Any]) -> list[Tag]:
    """Operations grouped by their first tag, tags in the document's order."""
    tags = {t["name"]: Tag(t["name"], t.get("description", "")) for t in document.get("tags", [])}
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            responses = [
                (status, answer.get("description", ""), _schema_of(answer.get("content")))
                for status, answer in op["responses"].items()
            ]
            name = (op.get("tags") or ["Other"])[0]
            tag = tags.setdefault(name, Tag(name, ""))
            body = op.get("requestBody", {}).get("content")
            tag.operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    operation_id=op.get("operationId", ""),
                    summary=op.get("summary", ""),
                    parameters=[*shared, *op.get("parameters", [])],
                    body=_schema_of(body),
                    responses=responses,
                )
            )
    return [tag for tag in tags.values() if tag.operations]


def schemas_of(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], list[tuple]]]:
    """Each component schema: name, the schema, and its properties (name, type, required, text)."""
    found = []
    for name, schema in document["components"]["schemas"].items():
        required = set(schema.get("required", []))
        rows = [
            (prop, _type_of(spec), prop in required, spec.get("description", ""))
            for prop, spec in schema.get("properties", {}).items()
        ]
        found.append((name, schema, rows))
    return found


@bp.get("/api-docs")
def api_docs() -> str:
    """The admin API's reference: operations by tag, then the schemas."""
    document = app_document()
    return render_template(
        "admin/api_docs.html",
        info=document["info"],
        server=document["servers"][0]["url"],
        token_url=document["components"]["securitySchemes"]["clientCredentials"]["flows"][
            "clientCredentials"
        ]["tokenUrl"],
        tags=tags_of(document),
        schemas=schemas_of(document),
        type_of=_type_of,
    )


@bp.get("/api-docs/openapi.json")
def api_docs_json() -> Response:
    """The same document as JSON, for an admin's browser session (the API itself wants a token)."""
    return document_response()
