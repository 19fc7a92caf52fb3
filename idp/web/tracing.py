"""Per request: an id (X-Request-ID), one log line, one latency observation."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from flask import Flask, Response, g, request, request_finished, request_started

from idp.metrics import Metrics, known_method, metrics

log = logging.getLogger("idp.request")
HEADER = "X-Request-ID"
# A proxy's id is kept only if it is short and harmless in a log line or a header.
VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Route arguments that are credentials (/activate/<token>) or carry the authorization request
# (/consent/<rid>: state, nonce, login_hint): their rule is logged, not the path.
SECRET_ARGUMENTS = frozenset({"token", "code", "secret", "rid"})
# Polled every few seconds: a line each would bury everything else. Failures are still logged.
QUIET_BLUEPRINTS = frozenset({"health", "metrics"})
LINE = "%s %s %s %sms"  # method, path, status, duration


def _started(app: Flask, **_: Any) -> None:
    g.request_id = request_id(request.headers.get(HEADER))
    g.request_started = time.perf_counter()


def _finished(app: Flask, response: Response, **_: Any) -> None:
    rid, started = g.get("request_id"), g.get("request_started")
    if rid is None or started is None:
        return
    response.headers[HEADER] = rid
    endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
    record(
        metrics(),
        rid=rid,
        method=request.method,
        path=loggable_path(),
        endpoint=endpoint,
        status=response.status_code,
        seconds=time.perf_counter() - started,
        quiet=request.blueprint in QUIET_BLUEPRINTS,
    )


def request_id(incoming: str | None) -> str:
    """The proxy's id if it is safe to repeat, else a new one."""
    return incoming if incoming and VALID_ID.fullmatch(incoming) else secrets.token_hex(8)


def record(
    found: Metrics | None,
    *,
    rid: str,
    method: str,
    path: str,
    endpoint: str,
    status: int,
    seconds: float,
    quiet: bool = False,
) -> None:
    """One latency observation and (unless quiet and fine) one log line; also for requests
    answered before Flask (idp.web.published)."""
    if found is not None:
        found.request_seconds.labels(endpoint, known_method(method), f"{status // 100}xx").observe(
            seconds
        )
    if (quiet and status < 400) or not log.isEnabledFor(logging.INFO):
        return
    duration_ms = round(seconds * 1000, 1)
    fields = {
        "request_id": rid,  # also on the record itself, for handlers that format later
        "method": method,
        "path": path,
        "endpoint": endpoint,
        "status": status,
        "duration_ms": duration_ms,
    }
    # What log.info does, less finding the caller's frame: no format we ship shows it, and it
    # is the same line every time.
    line = log.makeRecord(
        log.name,
        logging.INFO,
        __file__,
        0,
        LINE,
        (method, path, status, duration_ms),
        None,
        extra={"fields": fields},
    )
    log.handle(line)


def loggable_path() -> str:
    """The path without the query string (codes, tokens, hints travel there)."""
    rule = request.url_rule
    if rule is not None and rule.arguments & SECRET_ARGUMENTS:
        return rule.rule
    return request.path[:200]


def init_tracing(app: Flask) -> None:
    """Signals, not before/after_request: they run around every hook, in any registration order."""
    request_started.connect(_started, app)
    request_finished.connect(_finished, app)
