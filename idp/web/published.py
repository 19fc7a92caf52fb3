"""Discovery and JWKS answered in front of Flask: prebuilt bytes, no request context.

Relying parties fetch these two documents far more often than anything changes them, and
they need nothing a Flask request brings (session, CSRF, language, database). This WSGI
layer answers GET and HEAD of both paths from bytes built once per key set, with the same
headers as the rest of the app (security headers, CORS, caching, a strong ETag answered
with 304) and the same request id, log line and latency histogram. Any other method or path
goes on to Flask, whose views (idp.web.provider) serve the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from idp.oidc.keys import JWKS_MAX_AGE
from idp.oidc.metadata import discovery_document
from idp.web import tracing
from idp.web.security_headers import SECURITY_HEADERS, STRICT_TRANSPORT

if TYPE_CHECKING:
    from flask import Flask

    from idp.oidc.server import Server

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks.json"
# A staged key signs only after this long (idp keys activate), so no RP holds a stale JWKS.
CACHE_PUBLIC = f"public, max-age={JWKS_MAX_AGE}"
StartResponse = Callable[..., Any]


class Document:
    """One document's bytes and headers, rebuilt when the key set's version moves."""

    def __init__(self, endpoint: str, build: Callable[[Server], object]) -> None:
        self.endpoint = endpoint
        self.build = build
        # (key set version, body, etag), replaced whole so a reader never mixes two versions.
        self.entry: tuple[str | None, bytes, str] = (None, b"", "")
        self.lock = threading.Lock()

    def current(self, server: Server) -> tuple[bytes, str]:
        """(body, etag) for the key set as it is now (a `stat` of its state file)."""
        version = server.keys.version()
        entry = self.entry
        if entry[0] != version:
            with self.lock:
                body = json.dumps(self.build(server), separators=(",", ":")).encode() + b"\n"
                entry = (version, body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
                self.entry = entry
        return entry[1], entry[2]


def documents() -> dict[str, Document]:
    """The two published documents by path."""
    return {
        DISCOVERY_PATH: Document(
            "provider.discovery", lambda srv: discovery_document(srv.settings, srv.keys)
        ),
        JWKS_PATH: Document("provider.jwks", lambda srv: srv.keys.public_jwks()),
    }


def headers(etag: str, *, https: bool) -> list[tuple[str, str]]:
    """Caching, CORS and security headers of both documents (also on a 304)."""
    found = [("Cache-Control", CACHE_PUBLIC), ("Access-Control-Allow-Origin", "*"), ("ETag", etag)]
    found += SECURITY_HEADERS
    if https:
        found.append(STRICT_TRANSPORT)
    return found


class PublishedDocuments:
    """WSGI middleware: GET/HEAD of discovery and JWKS, before Flask; the rest to `inner`."""

    def __init__(self, app: Flask, inner: Callable[[dict[str, Any], StartResponse], Any]) -> None:
        self.app = app
        self.inner = inner
        self.https = app.extensions["idp.settings"].issuer.startswith("https://")
        self.documents: dict[str, Document] = app.extensions["idp.published"]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer from memory, or hand the request on unchanged."""
        document = self.documents.get(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD", "")
        if document is None or method not in ("GET", "HEAD"):
            return self.inner(environ, start_response)
        started = time.perf_counter()
        rid = tracing.request_id(environ.get("HTTP_X_REQUEST_ID"))
        server = self.app.extensions["idp.oidc"]
        version, body, etag = document.entry
        if server.keys.version() != version:
            with self.app.app_context():  # the key store reads the app's clock
                body, etag = document.current(server)
        found = headers(etag, https=self.https)
        if etag in environ.get("HTTP_IF_NONE_MATCH", ""):
            status, body = 304, b""
        else:
            status = 200
            found += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        found.append((tracing.HEADER, rid))
        start_response("200 OK" if status == 200 else "304 Not Modified", found)
        tracing.record(
            self.app.extensions.get("idp.metrics"),
            rid=rid,
            method=method,
            path=environ.get("PATH_INFO", ""),
            endpoint=document.endpoint,
            status=status,
            seconds=time.perf_counter() - started,
        )
        return [body] if method == "GET" else []


def install(app: Flask) -> None:
    """Put the layer in front of the app's WSGI callable (outside ProxyFix: it needs no IP)."""
    app.extensions["idp.published"] = documents()
    app.wsgi_app = PublishedDocuments(app, app.wsgi_app)  # type: ignore[method-assign]
