"""What one client may send: request body sizes and the keys rate limits count by."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from flask import current_app, request
from werkzeug.datastructures import Authorization

from idp.client_address import client_bucket
from idp.database import rollback_quietly
from idp.errors import DATABASE_UNAVAILABLE

# Every browser form and protocol request fits in far less; a bigger body is refused (413)
# before it is parsed. Admins upload user imports, so their pages keep the app-wide 1 MiB.
MAX_BODY = 64 * 1024
LARGE_BODY_BLUEPRINTS = frozenset({"admin", "admin_api"})


def cap_request_body() -> None:
    """before_request: the small body cap everywhere except the admin surfaces."""
    if request.blueprint not in LARGE_BODY_BLUEPRINTS:
        request.max_content_length = MAX_BODY


def token_rate_key() -> str:
    """/token's rate-limit key for the current Flask request (see token_rate_key_for)."""
    return token_rate_key_for(client_bucket(), _presented_client_id())


def token_rate_key_for(address: str, client_id: str) -> str:
    """/token counts per registered client and address (its bucket: IPv6 per /64,
    idp.client_address); unknown callers per address.

    Relying parties call /token from their servers, often many behind one egress address:
    a bare per-address cap would make them share one bucket (why 9c2aa81 dropped it). A
    client_id alone would let anyone drain a client's bucket by naming it.
    """
    known = client_id and len(client_id) <= 255 and "\x00" not in client_id
    try:
        if known and current_app.extensions["idp.oidc"].clients.get(client_id) is not None:
            return f"token:{client_id}@{address}"
    except DATABASE_UNAVAILABLE:
        # Raised here, Flask-Limiter would blame its own storage and switch to memory; the
        # view meets the same outage and answers 503.
        rollback_quietly()
    return f"token:{address}"


def presented_client_id(authorization: Authorization | None, form: Mapping[str, str]) -> str:
    """The client_id a /token request names: Basic credentials first, else the form's."""
    if authorization is not None and authorization.type == "basic" and authorization.username:
        return unquote(authorization.username)  # RFC 6749 2.3.1: form-encoded before Basic
    return form.get("client_id", "")


def _presented_client_id() -> str:
    form = request.form if request.mimetype.endswith("urlencoded") else {}
    return presented_client_id(request.authorization, form)
