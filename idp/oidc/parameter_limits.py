"""Size caps on authorization request parameters: a request is kept while the user signs in."""

from __future__ import annotations

import re
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError

# Generous for every real value (a state, a nonce, a URI), small enough that a kept request
# costs little. JSON `claims` and a signed `id_token_hint` get more room.
MAX_PARAMETER = 2048
MAX_BY_NAME = {"claims": 4096, "id_token_hint": 4096}
MAX_TOTAL = 16 * 1024


def _values(data: Any) -> list[tuple[str, str]]:
    getlist = getattr(data, "getlist", None)
    if getlist is None:
        return [(str(k), str(v)) for k, v in data.items() if v is not None]
    return [(str(k), str(v)) for k in data for v in getlist(k)]


def oversized(data: Any) -> str | None:
    """The first parameter over its cap ("request" when all together are too big), or None."""
    total = 0
    for name, value in _values(data):
        size = len(value.encode())
        if len(name) > 64 or size > MAX_BY_NAME.get(name, MAX_PARAMETER):
            return name[:64]
        total += len(name) + size
    return "request" if total > MAX_TOTAL else None


def check_sizes(data: Any, *, redirect_uri: str | None) -> None:
    """RFC 6749 4.1.2.1: invalid_request for an oversized parameter; state echoed if it fits."""
    name = oversized(data)
    if name is None:
        return
    # The name came from the client: echo it only when it is a plain name (RFC 6749 5.2 charset).
    label = name if re.fullmatch(r"[a-z_]{1,40}", name) else "request"
    error = InvalidRequestError(f"The '{label}' parameter is too long.")
    state = data.get("state")
    error.state = state if state and oversized({"state": state}) is None else None
    error.redirect_uri = redirect_uri
    raise error
