"""The admin JSON API (/admin/api/v1): client-credentials bearer tokens with scope idp:admin.

Errors are RFC 9457 problem details (application/problem+json); the OpenAPI 3.1 document
is served at /admin/api/v1/openapi.json.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from idp.errors import IdpError, answer_unavailable
from idp.extensions import csrf, limiter
from idp.manage.actor import Actor
from idp.manage.clients import ADMIN_SCOPE
from idp.manage.errors import FieldError, ManageError
from idp.manage.payload import Payload
from idp.models.token import Token
from idp.oidc.protocol import OAuth2Error

PREFIX = "/admin/api/v1"
REALM = "idp-admin"
PROBLEM = "application/problem+json"

bp = Blueprint("admin_api", __name__, url_prefix=PREFIX)
csrf.exempt(bp)  # bearer tokens, not cookies: no cross-site request can carry one
limiter.limit("600/minute")(bp)
answer_unavailable(bp)  # before the catch-all below: a database outage is a 503, not a 500


def problem(
    status: int,
    code: str,
    title: str,
    detail: str = "",
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem details response; `code` is our stable error code."""
    body: dict[str, Any] = {
        "type": f"urn:idp:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code,
    }
    if errors:
        body["errors"] = [
            {"field": e.field, "message": e.text, **({"line": e.line} if e.line else {})}
            for e in errors
        ]
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _bearer_refusal(error: str | None, status: int, detail: str) -> Response:
    # RFC 6750 3: no error code when no credentials were sent at all.
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if error != "invalid_token":
        parts.append(f'scope="{ADMIN_SCOPE}"')
    title = "Forbidden" if status == 403 else "Unauthorized"
    return problem(
        status,
        error or "unauthorized",
        title,
        detail,
        headers={"WWW-Authenticate": "Bearer " + ", ".join(parts)},
    )


@bp.before_request
def bearer_only() -> Response | None:
    """Every route: an unexpired, unrevoked client-credentials token with scope idp:admin."""
    protector = current_app.extensions["idp.oidc"].resource_protector
    try:
        token: Token = protector.acquire_token([ADMIN_SCOPE])
    except OAuth2Error as error:
        if error.error == "missing_authorization":
            return _bearer_refusal(None, 401, "Send an access token: Authorization: Bearer ...")
        if error.error == "insufficient_scope":
            return _bearer_refusal(error.error, 403, f"The token lacks the {ADMIN_SCOPE} scope.")
        return _bearer_refusal("invalid_token", 401, "The access token is not valid.")
    client = token.get_client()
    # Only a client acting for itself (client credentials), still enabled and still allowed.
    if token.user_id is not None or client is None or ADMIN_SCOPE not in (client.scopes or []):
        return _bearer_refusal("insufficient_scope", 403, "This token may not use the admin API.")
    g.actor = Actor(via="api", api_client=client.client_id)
    return None


@bp.before_app_request
def unknown_api_path() -> Response | None:
    """404 and 405 under the API's prefix are problem details too."""
    exc = request.routing_exception
    if not isinstance(exc, HTTPException) or exc.code not in (404, 405):
        return None
    if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
        return None
    return _http_problem(exc)


def _http_problem(exc: HTTPException) -> Response:
    headers = {}
    valid = getattr(exc, "valid_methods", None)
    if valid:
        headers["Allow"] = ", ".join(sorted(valid))
    code = exc.code or 400
    return problem(code, f"http_{code}", exc.name, exc.description or "", headers=headers)


@bp.errorhandler(ManageError)
def manage_error(error: ManageError) -> Response:
    """Service refusals: 404, 409, 422 with the fields at fault."""
    return problem(error.status, error.code, error.title, error.message, errors=error.errors)


@bp.errorhandler(IdpError)
def idp_error(error: IdpError) -> Response:
    """Domain errors from elsewhere (e.g. mail not sent: 503)."""
    return problem(error.status, error.code, "Request failed", error.message)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    """Malformed JSON, wrong media type, too large a body, rate limits."""
    return _http_problem(error)


@bp.errorhandler(Exception)
def unexpected(error: Exception) -> Response:
    """Never a bare 500 page; tests see the bug itself."""
    if current_app.testing:
        raise error
    current_app.logger.exception("admin API error")
    return problem(500, "server_error", "Internal Server Error", "Something went wrong.")


def json_body() -> Any:
    """The request's JSON document (415 without a JSON media type, 400 if malformed)."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json.")
    return request.get_json()


def query_text(name: str, max_len: int) -> str:
    """A query parameter as the document describes it: printable, at most max_len."""
    p = Payload({name: request.args.get(name, "")}, allowed=(name,))
    value = p.text(name, max_len=max_len)
    p.done()
    return value


def no_store(response: Response) -> Response:
    """API answers describe accounts and secrets: never cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


from idp.web.admin_api import clients, openapi, users  # noqa: E402, F401
