"""GET /metrics: Prometheus text format, behind a bearer token when IDP_METRICS_TOKEN is set."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from idp.extensions import limiter
from idp.models.mail_message import MailMessage
from idp.models.password_reset_request import PasswordResetRequest

bp = Blueprint("metrics", __name__)
limiter.exempt(bp)  # scraped by our own Prometheus


def _authorized(token: str) -> bool:
    if not token:
        return True
    presented = request.headers.get("Authorization", "")
    # Constant time: a byte-by-byte comparison would leak the token's prefix through timing.
    return hmac.compare_digest(presented.encode(), f"Bearer {token}".encode())


@bp.get("/metrics")
def metrics() -> Response:
    """Every counter, histogram and gauge of this app (all workers in multiprocess mode)."""
    if not _authorized(current_app.extensions["idp.settings"].metrics_token):
        return Response(
            "Unauthorized\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
            mimetype="text/plain",
        )
    metrics = current_app.extensions["idp.metrics"]
    metrics.mail_queue.set(MailMessage.count_queued() + PasswordResetRequest.count_queued())
    body = metrics.exposition()
    return Response(body, headers={"Cache-Control": "no-store"}, content_type=CONTENT_TYPE_LATEST)
