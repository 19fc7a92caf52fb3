"""client_secret_basic with the header checked before Authlib decodes it (RFC 6749 2.3.1), and
alone: no second method beside it, no other client named in the form (RFC 6749 2.3)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.util import extract_basic_authorization


def basic_credentials_readable(authorization: str | None) -> bool:
    """False when a Basic header's credentials are missing or not base64 of UTF-8 text.

    Authlib decodes them as UTF-8 without catching the error (a 500); RFC 6749 2.3.1 has the
    client form-encode its id and secret as UTF-8, so anything else is a failed authentication.
    """
    if not authorization or " " not in authorization:
        return True
    parts = authorization.split(None, 1)
    if len(parts) != 2:  # "Basic " alone: Authlib's own split would raise
        return False
    scheme, credentials = parts
    if scheme.lower() != "basic":
        return True
    try:
        base64.b64decode(credentials).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return True


def authenticate_basic(query_client: Any, request: Any) -> Any:
    """Authlib's client_secret_basic, or None (invalid_client, 401) for unreadable credentials."""
    if not basic_credentials_readable(request.headers.get("Authorization")):
        return None
    refuse_a_second_client(request)
    return authenticate_client_secret_basic(query_client, request)


def refuse_a_second_client(request: Any) -> None:
    """invalid_request when Basic credentials come with a client_secret in the form (RFC 6749
    2.3: "MUST NOT use more than one authentication method"), or with another client_id.

    Authlib would try each method in turn and take the first that works: a request would be
    answered for a client other than the one it names.
    """
    client_id, _ = extract_basic_authorization(request.headers)
    if not client_id:
        return
    form = request.form
    if form.get("client_secret") is not None:
        raise InvalidRequestError("Authenticate the client one way: HTTP Basic or client_secret.")
    named = form.get("client_id")
    if named is not None and named != client_id:
        raise InvalidRequestError("'client_id' is not the client authenticated by HTTP Basic.")
