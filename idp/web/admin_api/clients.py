"""Admin API: clients (CRUD, disable/enable, rotate-secret)."""

from __future__ import annotations

from flask import Response, g, jsonify, request, url_for
from werkzeug.exceptions import UnsupportedMediaType

from idp.branding import MAX_LOGO_BYTES
from idp.manage import clients
from idp.models.client import Client
from idp.web.admin_api import bp, json_body, no_store, query_text

LOGO_TYPES = ("image/png", "image/jpeg", "image/webp")


def _answer(client: Client, secret: str | None = None, status: int = 200) -> Response:
    body = clients.as_dict(client)
    if secret is not None or status == 201:
        body["client_secret"] = secret  # shown once; only its hash is stored
    response = jsonify(body)
    response.status_code = status
    return no_store(response)


@bp.get("/clients")
def list_clients() -> Response:
    """All clients; `q` filters by name or client_id."""
    found = clients.search(query_text("q", 120))
    return no_store(jsonify(clients=[clients.as_dict(c) for c in found]))


@bp.post("/clients")
def create_client() -> Response:
    """Register a client; the response carries its secret, this once."""
    client, secret = clients.create(json_body(), actor=g.actor)
    response = _answer(client, secret, 201)
    response.headers["Location"] = url_for(".get_client", client_id=client.client_id)
    return response


@bp.get("/clients/<client_id>")
def get_client(client_id: str) -> Response:
    """One client."""
    return _answer(clients.get(client_id))


@bp.patch("/clients/<client_id>")
def update_client(client_id: str) -> Response:
    """Change the fields sent; a client made confidential gets a secret in the answer."""
    client, secret = clients.update(clients.get(client_id), json_body(), actor=g.actor)
    return _answer(client, secret)


@bp.delete("/clients/<client_id>")
def delete_client(client_id: str) -> Response:
    """Delete a client; its tokens are revoked."""
    clients.remove(clients.get(client_id), actor=g.actor)
    return Response(status=204)


@bp.put("/clients/<client_id>/logo")
def put_client_logo(client_id: str) -> Response:
    """Upload the client's logo: the body is the PNG, JPEG or WebP image itself."""
    client = clients.get(client_id)
    if request.mimetype not in LOGO_TYPES:
        raise UnsupportedMediaType("Send the image as image/png, image/jpeg or image/webp.")
    clients.set_logo(client, request.stream.read(MAX_LOGO_BYTES + 1), actor=g.actor)
    return _answer(client)


@bp.delete("/clients/<client_id>/logo")
def delete_client_logo(client_id: str) -> Response:
    """Remove the client's logo: its sign-in shows the global one."""
    client = clients.get(client_id)
    clients.remove_logo(client, actor=g.actor)
    return _answer(client)


@bp.post("/clients/<client_id>/rotate-secret")
def rotate_client_secret(client_id: str) -> Response:
    """A new secret, returned once; the old one stops working."""
    client = clients.get(client_id)
    return _answer(client, clients.rotate_secret(client, actor=g.actor))


@bp.post("/clients/<client_id>/disable")
def disable_client(client_id: str) -> Response:
    """Disable; the client's tokens are revoked."""
    client = clients.get(client_id)
    clients.set_disabled(client, True, actor=g.actor)
    return _answer(client)


@bp.post("/clients/<client_id>/enable")
def enable_client(client_id: str) -> Response:
    """Enable again."""
    client = clients.get(client_id)
    clients.set_disabled(client, False, actor=g.actor)
    return _answer(client)
