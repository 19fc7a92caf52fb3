"""RFC 6749 3.1 and 3.2: request parameters MUST NOT be included more than once."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749.errors import InvalidRequestError


def refuse_repeated(request: Any, **error_args: Any) -> None:
    """Raise invalid_request when any parameter appears twice (Authlib would take the first)."""
    repeated = sorted(k for k, v in request.payload.datalist.items() if len(v) > 1)
    if not repeated:
        return
    name = repeated[0]
    # RFC 6749 5.2 limits error_description's characters: an odd name is not echoed.
    shown = "a parameter" if invalid_error_characters(name) else f"'{name}'"
    raise InvalidRequestError(f"Multiple {shown} in request.", **error_args)
