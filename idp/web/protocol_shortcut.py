"""/token and bearer GETs of /userinfo, answered by Authlib without Flask's request machinery.

Relying parties' servers call these far more often than browsers call anything, and they
need none of what a Flask request brings (session, CSRF, language, templates, cookies):
Flask's request context, hooks and response cost more than Authlib's grant does. For the
requests this layer recognises it builds Authlib's request from the WSGI environ and asks the
same server Flask's views ask (idp.oidc.server), in an app context and one unit of work
(idp.database.request_outside_flask: audit events carry the caller and are committed once, at
the end), then answers with what Flask's hooks add: the same headers, rate-limit count and
headers, request id, log line and latency histogram.

Recognised: a form POST to /token of the authorization_code, refresh_token or
client_credentials grant with only that grant's parameters (ASCII, no NUL, under MAX_BODY,
no query string), every answer Authlib gives to it included; a GET of /userinfo with a bearer
header, successes only (its errors have no side effect and go to Flask). Everything else,
/token's rate limit reached, the limiter's storage failing, or anything raised goes on to
Flask unchanged; what is neither an OAuth error nor an outage is logged (a warning with its
traceback). tests/oidc/test_protocol_shortcut.py holds the two paths to the same answers; every
other protocol test goes through this layer.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flask_limiter import RequestLimit
from limits import parse_many
from werkzeug.datastructures import Authorization

from idp.client_address import address_bucket
from idp.database import Caller, request_outside_flask
from idp.errors import DATABASE_UNAVAILABLE
from idp.extensions import db
from idp.oidc.plain_requests import (
    FormRequest,
    InsecureTransportError,
    PlainAnswer,
    RequestHeaders,
    bearer_request,
)
from idp.oidc.protocol import OAuth2Error
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
# The grants answered here and the parameters each may carry (RFC 6749 4.1.3, 4.4.2, 6 and
# 2.3.1; RFC 7636 4.5): any other goes to Flask, so this layer never has to know what Authlib
# would make of it.
_CLIENT = frozenset({"grant_type", "client_id", "client_secret"})
GRANT_PARAMETERS = {
    "authorization_code": _CLIENT | {"code", "redirect_uri", "code_verifier"},
    "refresh_token": _CLIENT | {"refresh_token", "scope"},
    "client_credentials": _CLIENT | {"scope"},
}
TOKEN_ENDPOINT = "provider.token"  # Flask-Limiter's scope for /token's limit, and the metric's
USERINFO_ENDPOINT = "provider.userinfo"


class ProtocolShortcut:
    """WSGI middleware in front of Flask's app (inside ProxyFix: the limiter needs the IP)."""

    def __init__(self, app: Flask, inner: WsgiApp) -> None:
        self.app = app
        self.inner = inner
        settings = app.extensions["idp.settings"]
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
        form = _token_form(environ)
        if form is None:
            return self.inner(environ, start_response)
        server: Server = self.app.extensions["idp.oidc"]
        headers = RequestHeaders(environ)
        try:
            request = FormRequest(_uri(environ), headers, form)
        except InsecureTransportError:  # plain http to a public host: Flask's error
            return self.inner(environ, start_response)
        address = environ.get("REMOTE_ADDR")
        caller = Caller(address, headers.get("User-Agent", "")[:400])
        try:
            with self.app.app_context(), request_outside_flask(caller):
                authorization = Authorization.from_header(headers.get("Authorization"))
                client_id = presented_client_id(authorization, form)
                key = token_rate_key_for(address_bucket(address or ""), client_id)
                counted = self._take(key)  # before the grant, as Flask-Limiter counts
                if counted is None:
                    return self.inner(environ, start_response)  # Flask says 429 (or copes)
                response: PlainAnswer = server.create_token_response(request)
                body = response.get_data()
                _commit()  # the request's one commit, as commit_without_session's
                self._after_commit()
        except DATABASE_UNAVAILABLE as error:
            # An outage: Flask meets it too and answers 503 with its own log line, so one
            # line here, not a second traceback per token request.
            log.warning("protocol shortcut: database unavailable (%s)", type(error).__name__)
            return self.inner(environ, start_response)
        except Exception:
            # Nothing answered and nothing committed yet (what follows the commit is
            # _after_commit's): Flask runs the request from the start.
            log.warning("protocol shortcut: Flask answers instead", exc_info=True)
            return self.inner(environ, start_response)
        found = [*response.headers, *_rate_limit_headers(counted)]
        return self._respond(
            environ, start_response, TOKEN_ENDPOINT, response.status, body, found, started
        )

    def _userinfo(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        if environ.get("CONTENT_LENGTH") not in (None, "", "0"):
            return self.inner(environ, start_response)
        server: Server = self.app.extensions["idp.oidc"]
        endpoint: UserInfo = server.userinfo
        request = bearer_request(_uri(environ), RequestHeaders(environ))
        try:
            with self.app.app_context():
                token = endpoint.resource_protector.validate_request(["openid"], request)
                response: PlainAnswer = server.handle_response(*endpoint.answer(token))
                body = response.get_data()
                self._sweep()
        except (OAuth2Error, *DATABASE_UNAVAILABLE):
            return self.inner(environ, start_response)  # Flask answers, logs an outage
        except Exception:
            log.warning("protocol shortcut: Flask answers instead", exc_info=True)
            return self.inner(environ, start_response)
        found = [*response.headers, ("Access-Control-Allow-Origin", "*")]
        return self._respond(
            environ, start_response, USERINFO_ENDPOINT, "200 OK", body, found, started
        )

    def _after_commit(self) -> None:
        """The sweep, once the answer is committed: what it raises is logged, never passed on,
        since Flask would run the grant again (a code redeemed twice revokes its tokens)."""
        try:
            self._sweep()
        except Exception:
            log.error("protocol shortcut: housekeeping after a token answer failed", exc_info=True)

    def _sweep(self) -> None:
        """Flask's teardown hook, in the request's app context: expired rows, now and then."""
        self.app.extensions["idp.sweeper"](None)

    def _limiter_args(self, key: str) -> list[str]:
        own = limiter_of(self.app)
        return [own._key_prefix, key, TOKEN_ENDPOINT] if own._key_prefix else [key, TOKEN_ENDPOINT]

    def _take(self, key: str) -> list[RequestLimit] | None:
        """Count this request in each of /token's limits, as Flask-Limiter counts the view's;
        None when one is used up, or the limiter's storage fails: Flask then decides.

        One hit each, never a test then a hit: of concurrent requests at the limit's edge, only
        as many as it allows get through. A request refused here is counted again by Flask: in
        the limit already used up, and in any shorter one it passed here (a limited client's
        extra count, never a free request). Flask-Limiter's own in-memory fallback (its storage
        failing) is left to it.
        """
        own = limiter_of(self.app)
        if not own.enabled:
            return []
        if own._storage_dead:
            return None
        args = self._limiter_args(key)
        try:
            if not all(own.limiter.hit(item, *args) for item in self.token_limits):
                return None
        except own.storage.base_exceptions:
            log.warning("rate limit storage failed counting a token request", exc_info=True)
            return None
        return [RequestLimit(own, item, args, False, False) for item in self.token_limits]

    def _respond(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        endpoint: str,
        status: str,
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
        start_response(status, found)
        tracing.record(
            self.app.extensions.get("idp.metrics"),
            rid=rid,
            method=environ["REQUEST_METHOD"],
            path=environ["PATH_INFO"],
            endpoint=endpoint,
            status=int(status[:3]),
            seconds=time.perf_counter() - started,
        )
        return [body]


def _commit() -> None:
    """Commit the request's unit of work, if it began one (a JWT for client credentials
    writes nothing: no session, no transaction to end)."""
    if db.session.registry.has() and db.session().in_transaction():
        db.session.commit()


def _token_form(environ: dict[str, Any]) -> dict[str, str] | None:
    """The form of a plain token request of a grant we answer, or None for anything else."""
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
    allowed = GRANT_PARAMETERS.get(form.get("grant_type", ""))
    if allowed is None or len(form) != len(pairs) or not form.keys() <= allowed:
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
