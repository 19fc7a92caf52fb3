"""HTTP: one blueprint per surface, thin views."""

from __future__ import annotations

from flask import Flask, Response, abort, request

from idp.authn.password import Passwords
from idp.config import Settings
from idp.errors import register_error_handlers
from idp.web.browser import set_device_cookie, set_passkey_cookie
from idp.web.security_headers import SECURITY_HEADERS, STRICT_TRANSPORT
from idp.web.session import DatabaseSessionInterface, commit_without_session
from idp.web.sweeper import Sweeper


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _strict_transport(response: Response) -> Response:
    response.headers.setdefault(*STRICT_TRANSPORT)
    return response


def _refuse_nul_bytes() -> None:
    """NUL never belongs in a parameter, and PostgreSQL text can't hold it: 400, not 500."""
    values = [*request.args.values(), *request.form.values(), request.path]
    if any("\x00" in v for v in values):
        abort(400, "Parameters must not contain NUL characters.")
    if request.is_json and (b"\\u0000" in request.get_data() or b"\x00" in request.get_data()):
        abort(400, "Parameters must not contain NUL characters.")


def register_web(app: Flask, settings: Settings) -> None:
    """Sessions, blueprints, error pages and security headers."""
    from idp.web import (
        account,
        admin,
        admin_api,
        branding,
        dev,
        health,
        help,
        metrics,
        provider,
        signin,
    )
    from idp.web.admin import activation
    from idp.web.tracing import init_tracing

    app.session_interface = DatabaseSessionInterface(settings)
    app.extensions["idp.passwords"] = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    modules = (
        provider,
        signin,
        account,
        help,
        dev,
        admin,
        activation,
        admin_api,
        health,
        metrics,
        branding,
    )
    for module in modules:
        app.register_blueprint(module.bp)
    branding.init_branding(app)
    init_tracing(app)
    register_error_handlers(app)
    app.before_request(_refuse_nul_bytes)
    # One commit per request, at its end: whatever it left pending (its audit events too) goes
    # with the session row when the session is saved (DatabaseSessionInterface.save_session),
    # or here, registered first so it runs last of the after_request hooks, when there is none.
    app.after_request(commit_without_session)
    app.after_request(_security_headers)
    if settings.issuer.startswith("https://"):
        app.after_request(_strict_transport)
    app.after_request(lambda response: set_device_cookie(response, secure=settings.secure_cookies))
    app.after_request(lambda response: set_passkey_cookie(response, secure=settings.secure_cookies))
    # Registered after Flask-SQLAlchemy's, so it runs before the database session is removed.
    sweeper = app.extensions["idp.sweeper"] = Sweeper(settings)  # also after the shortcut's
    app.teardown_request(sweeper)

    @app.context_processor
    def inject_settings() -> dict[str, object]:
        return {"settings": settings}
