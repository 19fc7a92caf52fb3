"""Domain errors with stable codes, and the one place that turns errors into responses."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from idp.branding import global_brand

log = logging.getLogger(__name__)
# Refused, dropped or timed out (connect, statement, pool checkout): the database, not our code.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
RETRY_AFTER_SECONDS = 30


class IdpError(Exception):
    """Base of errors users may see; `code` is stable, `message` is for people."""

    code = "error"
    status = 400
    title = _l("We can't continue")
    message = _l("Something went wrong.")

    def __init__(self, message: str | LazyString | None = None) -> None:
        # Translated now, in the language of the request that raised it: a plain str can go
        # into the session (flash), JSON and logs, and templates escape it like any text.
        text = str(message or self.message)
        super().__init__(text)
        self.message = text


class BadAuthorizationRequest(IdpError):
    """A request we must not redirect back: unknown client or unregistered redirect_uri."""

    code = "bad_authorization_request"


class SignInExpired(IdpError):
    """The sign-in link or step no longer matches a request in progress."""

    code = "sign_in_expired"
    message = _l("This sign-in has expired. Please go back to the application and start again.")


class Unavailable(IdpError):
    """A service we depend on (the database) is down or too slow: try again shortly."""

    code = "temporarily_unavailable"
    status = 503
    message = _l("We can't reach our records just now. Please try again in a minute.")


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" or request.path.startswith(
        ("/token", "/userinfo", "/revoke", "/introspect")
    )


def error_page(
    title: str | LazyString, message: str | LazyString, status: int, code: str = "error"
) -> tuple[str, int]:
    """Render the friendly error page."""
    return render_template("error.html", title=title, message=message, code=code), status


def unavailable_response() -> Response:
    """503 with Retry-After, shaped for the caller; needs neither the database nor the session."""
    # Later saves of this request's session would only wait on the database again.
    g.idp_unavailable = True
    error = Unavailable()
    if request.path.startswith("/admin/api/"):
        # RFC 9457 problem details, as every admin API error.
        response = jsonify(
            type=f"urn:idp:problem:{error.code}",
            title="Service Unavailable",
            status=error.status,
            detail=error.message,
            code=error.code,
        )
        response.mimetype = "application/problem+json"
    elif _wants_json():
        response = jsonify(error=error.code, error_description=error.message)
    else:
        # Its own template: base.html reads the session (CSRF token, flashed messages).
        # The global branding, given: the sign-in's client would need the database.
        brand = global_brand(current_app.extensions["idp.settings"])
        response = Response(render_template("unavailable.html", message=error.message, brand=brand))
    response.status_code = error.status
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def first_line(error: Exception) -> str:
    """An error's first line: enough for a log line, unlike SQLAlchemy's multi-line text."""
    lines = str(error).splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def _database_unavailable(error: Exception) -> Response:
    """The database refused, dropped or timed out: a short warning, not a traceback."""
    from idp.database import rollback_quietly

    rollback_quietly()
    log.warning("database unavailable: %s", first_line(error))
    return unavailable_response()


def answer_unavailable(scaffold: Flask | Blueprint) -> None:
    """503 for outages; blueprints with their own catch-all handler call it too."""
    for error_class in DATABASE_UNAVAILABLE:
        scaffold.register_error_handler(error_class, _database_unavailable)
    scaffold.register_error_handler(Unavailable, lambda _error: unavailable_response())


def register_error_handlers(app: Flask) -> None:
    """Map errors to pages (browsers) or JSON (APIs); never a bare 500."""

    answer_unavailable(app)

    @app.errorhandler(IdpError)
    def domain_error(error: IdpError) -> tuple[str, int]:
        return error_page(error.title, error.message, error.status, error.code)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return error_page(
            _l("Please try again"),
            _l(
                "This form expired or was sent from another page. Go back, reload it and try again."
            ),
            400,
            "csrf",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | tuple[str, int]:
        if _wants_json():
            response = jsonify(error="invalid_request", error_description=error.description)
            response.status_code = error.code or 400
            return response
        return error_page(error.name, error.description or "", error.code or 400)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response | tuple[str, int]:
        if app.testing:
            raise error  # a test must see the bug, not a polite page
        log.exception("unhandled error")
        if _wants_json():
            response = jsonify(error="server_error")
            response.status_code = 500
            return response
        return error_page(
            _l("Something went wrong on our side"),
            _l("Please try again in a moment. If it keeps happening, contact support."),
            500,
        )
