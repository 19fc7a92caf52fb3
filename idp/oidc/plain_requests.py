"""Authlib's requests built from plain values, and its answers kept plain, for requests
answered before Flask.

idp.web.protocol_shortcut parses the WSGI environ itself; these wrap what it found in the
request types Authlib's server and resource protector take (Flask's views build theirs from
Flask's request instead), and hold what the server answers without a Flask Response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, JsonRequest
from flask import current_app
from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import HTTP_STATUS_CODES

__all__ = [
    "FormRequest",
    "InsecureTransportError",
    "PlainAnswer",
    "RequestHeaders",
    "bearer_request",
]


class RequestHeaders(EnvironHeaders):
    """A WSGI request's headers, read from its environ as Authlib asks for them.

    Always true, as a request's headers are: Authlib's `headers or {}` would otherwise count
    them, walking the whole environ (~15 us a token request).
    """

    def __bool__(self) -> bool:
        return True


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """A form POST already parsed; InsecureTransportError for plain http to a public host."""

    def __init__(self, uri: str, headers: Any, form: dict[str, str]) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form

    @property
    def args(self) -> dict[str, str]:
        """No query string: requests with one are left to Flask."""
        return {}

    @property
    def form(self) -> dict[str, str]:
        """The form body (client_secret_post reads its credentials here)."""
        return self._form


def bearer_request(uri: str, headers: Any) -> JsonRequest:
    """A GET with its headers (any mapping with `get`), as the resource protector reads a
    bearer token."""
    return JsonRequest("GET", uri, headers)


@dataclass(frozen=True, slots=True)
class PlainAnswer:
    """An answer of Authlib's server as Flask's Response would carry it: the status line,
    the body (a dict as Flask's JSON, in an app context) and the headers in their order."""

    status_code: int
    payload: Any
    headers: list[tuple[str, str]]

    @property
    def status(self) -> str:
        """The status line, as werkzeug writes it ("200 OK")."""
        return f"{self.status_code} {HTTP_STATUS_CODES.get(self.status_code, 'UNKNOWN').upper()}"

    def get_data(self) -> bytes:
        """The body's bytes."""
        payload = self.payload
        if isinstance(payload, dict):
            payload = current_app.json.dumps(payload)
        return payload.encode() if isinstance(payload, str) else bytes(payload)
