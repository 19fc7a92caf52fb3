"""OAuth errors a relying party receives from the hosted pages, and the page when it can't."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from flask import Response
from flask_babel import gettext as _

from idp.errors import BadAuthorizationRequest
from idp.models.client import Client
from idp.oidc.protocol import OAuth2Error, add_params_to_uri
from idp.web import current

log = logging.getLogger(__name__)


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


def unredirectable(error: OAuth2Error, params: Mapping[str, Any]) -> BadAuthorizationRequest:
    """The error page for a request the client can't be answered at (RFC 6749 4.1.2.1).

    A refused redirect_uri is logged; in development the page also names it and the client's
    registered ones (never in production: there the page stays generic).
    """
    message = unredirectable_message(error)
    if not _redirect_refused(error):
        return BadAuthorizationRequest(message)
    client_id = str(params.get("client_id") or "")
    received = params.get("redirect_uri")
    log.warning(
        "authorize: redirect_uri %r refused for client_id %r",
        _masked(received) if received else None,
        client_id,
    )
    if not current.settings().is_development:
        return BadAuthorizationRequest(message)
    client = Client.by_client_id(client_id) if client_id else None
    registered = ", ".join(client.redirect_uris) if client and client.redirect_uris else _("none")
    if received:
        detail = _(
            "Development only: %(received)s is not a redirect URI registered for %(client_id)s. "
            "Registered: %(registered)s.",
            received=received,
            client_id=client_id,
            registered=registered,
        )
    else:
        detail = _(
            "Development only: the request has no redirect_uri (OpenID Connect requires one). "
            "Registered for %(client_id)s: %(registered)s.",
            client_id=client_id,
            registered=registered,
        )
    return BadAuthorizationRequest(f"{message} {detail}")


def unredirectable_message(error: OAuth2Error) -> str:
    """What the error page tells a person when the client can't be answered (RFC 6749 4.1.2.1)."""
    if error.error == "invalid_client":
        return _("The application that sent you here is not registered with us.")
    if _redirect_refused(error):
        return _(
            "The application sent you here with a return address we don't recognize, "
            "so we can't send you back to it."
        )
    return _("The application sent a sign-in request we can't process.")


def _redirect_refused(error: OAuth2Error) -> bool:
    # Authlib names the redirect_uri in the description of both refusals: unregistered, missing.
    return error.error == "invalid_request" and "redirect" in (error.description or "").lower()


def _masked(uri: str) -> str:
    # Query values and fragments may carry tokens or personal data: keep only the names.
    parts = urlsplit(uri)
    names = [name for name, _value in parse_qsl(parts.query, keep_blank_values=True)]
    query = "&".join(f"{name}=***" for name in names)
    return urlunsplit(parts._replace(query=query, fragment="***" if parts.fragment else ""))
