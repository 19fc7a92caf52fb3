"""OAuth errors a relying party receives from the hosted pages, and the page when it can't."""

from __future__ import annotations

from typing import Any

from flask import Response

from idp.oidc.protocol import OAuth2Error, add_params_to_uri
from idp.web import current


def error_redirect(error: OAuth2Error) -> Response:
    """The OAuth error sent back to the client, with `iss` (RFC 9207) when redirecting."""
    response = current.server().handle_error_response(None, error)
    if response.location:
        response.location = add_params_to_uri(response.location, {"iss": current.settings().issuer})
    return response


def refuse(grant: Any, error_code: str) -> Response:
    """Answer the client's redirect URI with `error_code` (and its state)."""
    error = OAuth2Error(
        description=None, redirect_uri=grant.redirect_uri, state=grant.request.payload.state
    )
    error.error = error_code
    return error_redirect(error)


def unredirectable_message(error: OAuth2Error) -> str:
    """What the error page tells a person when the client can't be answered (RFC 6749 4.1.2.1)."""
    if error.error == "invalid_client":
        return "The application that sent you here is not registered with us."
    if error.error == "invalid_request" and "redirect" in (error.description or "").lower():
        return (
            "The application sent you here with a return address we don't recognise, "
            "so we can't send you back to it."
        )
    return "The application sent a sign-in request we can't process."
