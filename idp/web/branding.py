"""Branding over HTTP: logos and colour stylesheets from our own origin, and `brand` in templates.

Every page (and every mail rendered during a request) gets `brand`: the branding of the client
whose sign-in the request serves (its `rid`), else the global one. It is computed on first use,
so a page that never shows it (the 503 page while the database is away) never reads a client.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, abort, g, has_request_context, request
from werkzeug.local import LocalProxy

from idp.branding import (
    HEX_COLOR,
    PAGE_BACKGROUND,
    Brand,
    brand_for,
    global_brand,
    global_logo,
    readable_on,
    text_on,
)
from idp.manage import client_logos
from idp.web import current, gating

bp = Blueprint("branding", __name__, url_prefix="/branding")
log = logging.getLogger(__name__)
YEAR = 365 * 24 * 3600


def _image(data: bytes, content_type: str) -> Response:
    response = Response(data, mimetype=content_type)
    # Versioned URLs (?v=<hash>): a new logo is a new URL, so caches may keep this one.
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/_/logo")
def global_logo_image() -> Response:
    """The organisation's logo (IDP_LOGO_FILE)."""
    found = global_logo(current.settings())
    if found is None:
        abort(404)
    return _image(*found)


@bp.get("/<client_id>/logo")
def client_logo(client_id: str) -> Response:
    """A client's stored logo, with its checked content type."""
    found = client_logos.find(client_id)
    if found is None:
        abort(404)
    return _image(found.data, found.content_type)


@bp.get("/theme/<color>.css")
def theme(color: str) -> Response:
    """The colours of one brand as CSS variables (no inline styles: the CSP stays strict)."""
    color = f"#{color}"
    if not HEX_COLOR.fullmatch(color):
        abort(404)
    css = (
        f":root {{ --accent: {color}; --on-accent: {text_on(color)}; "
        f"--link: {readable_on(color, PAGE_BACKGROUND)}; }}\n"
    )
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response


def _rid() -> str | None:
    # Never the form: an error page about a body too large must not read it.
    for source in (request.view_args or {}, request.args):
        rid = source.get("rid")
        if isinstance(rid, str) and rid:
            return rid
    return None


def sign_in_client_id() -> str | None:
    """The client of the sign-in this request serves (its `rid`), if any."""
    rid = _rid() if has_request_context() else None
    view = gating.pending_view(rid) if rid else None
    return view.client.client_id if view is not None and view.client is not None else None


def request_brand() -> Brand:
    """The branding for this request: its sign-in's client, else the global one."""
    if not has_request_context():
        return global_brand(current.settings())
    if "brand" not in g:
        g.brand = global_brand(current.settings())
        rid = _rid()
        if rid:
            try:
                view = gating.pending_view(rid)
            except Exception:  # a page about an outage must still render, unbranded
                log.warning("branding: could not read the sign-in's client", exc_info=True)
                view = None
            if view is not None:
                g.brand = brand_for(view.client, current.settings())
    return g.brand


def init_branding(app: Flask) -> None:
    """`brand` in every template, computed on first use."""
    proxy = LocalProxy(request_brand)
    app.extensions["idp.brand"] = request_brand  # idp.mail brands what it sends with it

    @app.context_processor
    def inject_brand() -> dict[str, object]:
        return {"brand": proxy}
