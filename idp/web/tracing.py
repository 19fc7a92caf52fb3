"""Per request: an id (X-Request-ID), one log line, one latency observation."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from flask import Flask, Response, g, request, request_finished, request_started

from idp.metrics import metrics

log = logging.getLogger("idp.request")
HEADER = "X-Request-ID"
# A proxy's id is kept only if it is short and harmless in a log line or a header.
VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Route arguments that are credentials (/activate/<token>) or carry the authorization request
# (/consent/<rid>: state, nonce, login_hint): their rule is logged, not the path.
SECRET_ARGUMENTS = frozenset({"token", "code", "secret", "rid"})
# Polled every few seconds: a line each would bury everything else. Failures are still logged.
QUIET_BLUEPRINTS = frozenset({"health", "metrics"})


def _started(app: Flask, **_: Any) -> None:
    incoming = request.headers.get(HEADER, "")
    g.request_id = incoming if VALID_ID.fullmatch(incoming) else secrets.token_hex(8)
    g.request_started = time.perf_counter()


def _finished(app: Flask, response: Response, **_: Any) -> None:
    rid, started = g.get("request_id"), g.get("request_started")
    if rid is None or started is None:
        return
    response.headers[HEADER] = rid
    seconds = time.perf_counter() - started
    endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
    status = response.status_code
    if (found := metrics()) is not None:
        labels = (endpoint, request.method, f"{status // 100}xx")
        found.request_seconds.labels(*labels).observe(seconds)
    if request.blueprint in QUIET_BLUEPRINTS and status < 400:
        return
    path, duration_ms = loggable_path(), round(seconds * 1000, 1)
    fields = {
        "request_id": rid,  # also on the record itself, for handlers that format later
        "method": request.method,
        "path": path,
        "endpoint": endpoint,
        "status": status,
        "duration_ms": duration_ms,
    }
    log.info("%s %s %s %sms", request.method, path, status, duration_ms, extra={"fields": fields})


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
