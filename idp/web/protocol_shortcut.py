"""Client credentials at /token and bearer GETs of /userinfo, answered by Authlib without Flask.

Relying parties' servers call these far more often than browsers call anything, and they
need none of what a Flask request brings (session, CSRF, language, templates, cookies):
Flask's request context, hooks and response cost several times what Authlib's grant does.
For the requests this layer recognises, it builds Authlib's request from the WSGI environ and
asks the same server Flask's views ask (idp.oidc.server), in an app context (the database
session, the clock), then answers with the same headers, rate-limit count, request id, log line
and latency histogram as Flask would.

It answers successes only. A request it does not recognise, any error Authlib finds (which
for these two has no side effect before it: nothing is written until the token is issued), a
rate limit reached, a body too large or holding NUL, the limiter's storage failing or anything
raised goes on to Flask unchanged, whose views answer it with every hook: one code path
decides what a client is refused and why. tests/oidc/test_protocol_shortcut.py holds the two
paths to the same bytes.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, JsonRequest
from flask_limiter import RequestLimit
from limits import parse_many
from werkzeug.datastructures import Authorization, EnvironHeaders

from idp.rate_limiter import limiter_of
from idp.web import tracing
from idp.web.limits import MAX_BODY, presented_client_id, token_rate_key_for
from idp.web.security_headers import SECURITY_HEADERS, STRICT_TRANSPORT

if TYPE_CHECKING:
    from flask import Flask

    from idp.oidc.server import Server, UserInfo

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
FORM = "application/x-www-form-urlencoded"
TOKEN_PATH, USERINFO_PATH = "/token", "/userinfo"
# The parameters a client credentials request may carry (RFC 6749 4.4.2, 2.3.1); any other
# goes to Flask, so this layer never has to know what Authlib would make of it.
TOKEN_PARAMETERS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
TOKEN_ENDPOINT = "provider.token"  # Flask-Limiter's scope for /token's limit, and the metric's
USERINFO_ENDPOINT = "provider.userinfo"
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


class FormRequest(OAuth2Request):
    """Authlib's request for a form body already parsed (client_secret_post reads `form`)."""

    def __init__(self, uri: str, headers: EnvironHeaders, form: dict[str, str]) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form

    @property
    def args(self) -> dict[str, str]:
        """No query string: requests with one go to Flask."""
        return {}

    @property
    def form(self) -> dict[str, str]:
        """The form body."""
        return self._form


class ProtocolShortcut:
    """WSGI middleware in front of Flask's app (inside ProxyFix: the limiter needs the IP)."""

    def __init__(self, app: Flask, inner: WsgiApp) -> None:
        self.app = app
        self.inner = inner
        settings = app.extensions["idp.settings"]
        self.settings = settings
        self.https = settings.issuer.startswith("https://")
        self.token_limits = sorted(parse_many(settings.token_rate_limit))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer a recognised success here; hand everything else to Flask unchanged."""
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if environ.get("QUERY_STRING"):
            return self.inner(environ, start_response)
        if path == TOKEN_PATH and method == "POST":
            return self._token(environ, start_response)
        if path == USERINFO_PATH and method == "GET" and "HTTP_AUTHORIZATION" in environ:
            return self._userinfo(environ, start_response)
        return self.inner(environ, start_response)

    def _token(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        form = _client_credentials_form(environ)
        if form is None:
            return self.inner(environ, start_response)
        server: Server = self.app.extensions["idp.oidc"]
        headers = EnvironHeaders(environ)
        try:
            request = FormRequest(_uri(environ), headers, form)
        except InsecureTransportError:  # plain http to a public host: Flask's error
            return self.inner(environ, start_response)
        try:
            with self.app.app_context():
                client_id = presented_client_id(
                    Authorization.from_header(headers.get("Authorization")), form
                )
                key = token_rate_key_for(environ.get("REMOTE_ADDR") or "127.0.0.1", client_id)
                if not self._within_limits(key):
                    return self.inner(environ, start_response)
                response = server.create_token_response(request)
                if response.status_code != 200:
                    return self.inner(environ, start_response)  # Flask counts what it refuses
                counted = self._count(key)
                body = response.get_data()
        except Exception:
            log.warning("protocol shortcut: Flask answers instead", exc_info=True)
            return self.inner(environ, start_response)
        found = [*response.headers.items(), *_rate_limit_headers(counted)]
        return self._respond(environ, start_response, TOKEN_ENDPOINT, body, found, started)

    def _userinfo(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        if environ.get("CONTENT_LENGTH") not in (None, "", "0"):
            return self.inner(environ, start_response)
        server: Server = self.app.extensions["idp.oidc"]
        endpoint: UserInfo = server.userinfo
        request = JsonRequest("GET", _uri(environ), EnvironHeaders(environ))
        try:
            with self.app.app_context():
                token = endpoint.resource_protector.validate_request(["openid"], request)
                response = server.handle_response(*endpoint.answer(token))  # Flask's JSON
                body = response.get_data()
        except Exception:  # OAuth2Error included: Flask gives the error with its hooks
            return self.inner(environ, start_response)
        found = [*response.headers.items(), ("Access-Control-Allow-Origin", "*")]
        return self._respond(environ, start_response, USERINFO_ENDPOINT, body, found, started)

    def _limiter_args(self, key: str) -> list[str]:
        own = limiter_of(self.app)
        return [own._key_prefix, key, TOKEN_ENDPOINT] if own._key_prefix else [key, TOKEN_ENDPOINT]

    def _within_limits(self, key: str) -> bool:
        """Whether /token's limit lets this request through; False: Flask counts and decides.

        Flask-Limiter's own in-memory fallback (its storage failing) is left to it.
        """
        own = limiter_of(self.app)
        if not own.enabled:
            return True
        if own._storage_dead:
            return False
        args = self._limiter_args(key)
        try:
            return all(own.limiter.test(item, *args) for item in self.token_limits)
        except own.storage.base_exceptions:
            return False

    def _count(self, key: str) -> list[RequestLimit]:
        """Count an answered request as Flask-Limiter counts the view's (issued: it counts)."""
        own = limiter_of(self.app)
        if not own.enabled:
            return []
        args = self._limiter_args(key)
        try:
            for item in self.token_limits:
                own.limiter.hit(item, *args)
        except own.storage.base_exceptions:
            log.warning("rate limit storage failed counting a token request", exc_info=True)
            return []
        return [RequestLimit(own, item, args, False, False) for item in self.token_limits]

    def _respond(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        endpoint: str,
        body: bytes,
        found: list[tuple[str, str]],
        started: float,
    ) -> Iterable[bytes]:
        rid = tracing.request_id(environ.get("HTTP_X_REQUEST_ID"))
        names = {name.lower() for name, _ in found}
        found = [(n, v) for n, v in found if n.lower() != "content-length"]
        found.append(("Content-Length", str(len(body))))
        found += [(n, v) for n, v in SECURITY_HEADERS if n.lower() not in names]
        if self.https:
            found.append(STRICT_TRANSPORT)
        found.append((tracing.HEADER, rid))
        start_response("200 OK", found)
        tracing.record(
            self.app.extensions.get("idp.metrics"),
            rid=rid,
            method=environ["REQUEST_METHOD"],
            path=environ["PATH_INFO"],
            endpoint=endpoint,
            status=200,
            seconds=time.perf_counter() - started,
        )
        return [body]


def _client_credentials_form(environ: dict[str, Any]) -> dict[str, str] | None:
    """The form of a plain client credentials request, or None for anything else."""
    if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != FORM:
        return None
    length = environ.get("CONTENT_LENGTH", "")
    if not length.isdigit() or int(length) > MAX_BODY:
        return None
    raw = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(raw)  # Flask reads it again if we hand the request on
    if not raw.isascii() or b"%00" in raw:
        return None
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    form = dict(pairs)
    if len(form) != len(pairs) or not form.keys() <= TOKEN_PARAMETERS:
        return None
    if form.get("grant_type") != "client_credentials":
        return None
    # Percent-escapes decode to ASCII only, and never to NUL (Flask's hook refuses it).
    if not all(v.isascii() and v.isprintable() for v in form.values()):
        return None
    return form


def _uri(environ: dict[str, Any]) -> str:
    """The request's URL as Flask builds it (Authlib judges its transport)."""
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('PATH_INFO', '')}"


def _rate_limit_headers(counted: list[RequestLimit]) -> list[tuple[str, str]]:
    """X-RateLimit-* and Retry-After as Flask-Limiter adds them (RATELIMIT_HEADERS_ENABLED)."""
    if not counted:
        return []
    limit = counted[0]
    reset_at = limit.reset_at
    return [
        ("X-RateLimit-Limit", str(limit.limit.amount)),
        ("X-RateLimit-Remaining", str(limit.remaining)),
        ("X-RateLimit-Reset", str(reset_at)),
        ("Retry-After", str(int(reset_at - time.time()))),
    ]


def install(app: Flask) -> None:
    """Put the layer in front of Flask's WSGI app, before any ProxyFix wraps it."""
    shortcut = ProtocolShortcut(app, app.wsgi_app)
    app.extensions["idp.protocol_shortcut"] = shortcut  # tests reach Flask's own path through it
    app.wsgi_app = shortcut  # type: ignore[method-assign]
