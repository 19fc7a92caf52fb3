"""A lean HTTP client: `requests` costs ~1 ms of CPU per call, more than discovery does."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


@dataclass(frozen=True, slots=True)
class Reply:
    """Status, headers and body of one response."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    @property
    def location(self) -> str:
        """The Location header ("" if none)."""
        return self.headers.get("Location", "")


class Http:
    """One connection, kept alive when the server allows it, and its cookies (like a browser)."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request; http.client reconnects by itself after `Connection: close`."""
        sent = dict(headers or {})
        if form is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        try:
            self.conn.request(method, path, urlencode(form) if form else None, sent)
            response = self.conn.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        except (OSError, http.client.HTTPException):
            self.conn.close()  # a half-read connection can't be reused
            raise
        # The provider's cookies are host-only with Path=/: name and value are all we keep.
        for header in reply.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in header.lower():
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return reply
