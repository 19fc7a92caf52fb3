"""JSON from outside (request bodies, the `claims` parameter, uploads), with a nesting limit.

Python's parser recurses once per level: a body of ten thousand `[` raises RecursionError
(a 500) instead of ValueError. Every parser of untrusted JSON goes through `loads`, and
Flask's `request.get_json` does too (the app's JSON provider), so too deep is just malformed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask.json.provider import DefaultJSONProvider

from idp.errors import IdpError

# Real documents here (WebAuthn credentials, admin API bodies, OIDC claims) nest a few levels.
MAX_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class TooDeep(IdpError, ValueError):
    """The document nests arrays and objects deeper than MAX_DEPTH (a malformed body: 400)."""

    code = "json_too_deep"


def depth(text: str) -> int:
    """How deep arrays and objects nest, ignoring brackets inside strings (stops past the limit)."""
    level = deepest = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        level += 1 if char in "[{" else -1
        if level > deepest:
            deepest = level
            if deepest > MAX_DEPTH:
                break
    return deepest


def loads(data: str | bytes | bytearray, **kwargs: Any) -> Any:
    """json.loads that raises ValueError (TooDeep) rather than RecursionError."""
    text = data if isinstance(data, str) else bytes(data).decode(json.detect_encoding(data))
    if depth(text) > MAX_DEPTH:
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, **kwargs)
    except RecursionError:  # a small interpreter stack; the scan above normally stops it first
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels") from None


class UntrustedJSONProvider(DefaultJSONProvider):
    """The app's JSON provider: request bodies are parsed with the nesting limit."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse a request body (or any JSON Flask reads) with the nesting limit."""
        return loads(s, **kwargs)
