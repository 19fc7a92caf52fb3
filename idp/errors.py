"""Domain errors with stable codes, and the one place that turns errors into responses."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class IdpError(Exception):
    """Base of errors users may see; `code` is stable, `message` is for people."""

    code = "error"
    status = 400
    message = "Something went wrong."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class BadAuthorizationRequest(IdpError):
    """A request we must not redirect back: unknown client or unregistered redirect_uri."""

    code = "bad_authorization_request"


class SignInExpired(IdpError):
    """The sign-in link or step no longer matches a request in progress."""

    code = "sign_in_expired"
    message = "This sign-in has expired. Please go back to the application and start again."


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" or request.path.startswith(
        ("/token", "/userinfo", "/revoke", "/introspect")
    )


def error_page(title: str, message: str, status: int, code: str = "error") -> tuple[str, int]:
    """Render the friendly error page."""
    return render_template("error.html", title=title, message=message, code=code), status


def register_error_handlers(app: Flask) -> None:
    """Map errors to pages (browsers) or JSON (APIs); never a bare 500."""

    @app.errorhandler(IdpError)
    def domain_error(error: IdpError) -> tuple[str, int]:
        return error_page("We can't continue", error.message, error.status, error.code)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return error_page(
            "Please try again",
            "This form expired or was sent from another page. Go back, reload it and try again.",
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
            "Something went wrong on our side",
            "Please try again in a moment. If it keeps happening, contact support.",
            500,
        )
