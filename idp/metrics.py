"""Prometheus metrics: security events counted from the audit trail, requests, the pool.

Under gunicorn, set PROMETHEUS_MULTIPROC_DIR to an empty directory writable by the workers
(gunicorn.conf.py empties it at start and marks exited workers dead): every worker writes its
values there and a scrape, served by any one worker, adds them up. Without it the registry
lives in the process, which is right for a single process (`flask run`, tests).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, current_app
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event

from idp.extensions import db

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Label values come from these sets only: a label fed from input would grow without bound.
FACTORS = frozenset({"password", "totp", "email_code", "recovery_code", "webauthn", "passkey"})
PURPOSES = frozenset({"sign_in", "password_reset", "step_up"})
GRANTS = frozenset({"authorization_code", "refresh_token", "client_credentials"})
# The method is the client's to choose: any other spelling is one "other" series, not one each.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _known(value: Any, allowed: frozenset[str]) -> str:
    return str(value) if str(value) in allowed else "other"


class Metrics:
    """One app's metrics, registered in a registry of its own (tests build many apps)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.sign_in_steps = Counter(
            "idp_sign_in_steps",
            "Factor checks by factor, result (verified, failed) and purpose",
            ["factor", "result", "purpose"],
            registry=r,
        )
        self.trusted_device_skips = Counter(
            "idp_second_factor_skips",
            "Second factors not asked because the browser is a trusted device",
            registry=r,
        )
        self.enrollments = Counter(
            "idp_enrollments", "Factors enrolled, by factor", ["factor"], registry=r
        )
        self.lockouts = Counter(
            "idp_lockouts",
            "Attempts refused or ended by a lock-out, by factor",
            ["factor"],
            registry=r,
        )
        self.tokens_issued = Counter(
            "idp_tokens_issued", "Token responses issued, by grant type", ["grant"], registry=r
        )
        self.refresh_reuse = Counter(
            "idp_refresh_token_reuse",
            "Rotated refresh tokens presented again (their family is revoked)",
            registry=r,
        )
        self.code_replays = Counter(
            "idp_authorization_code_replays",
            "Authorization codes redeemed twice (their tokens are revoked)",
            registry=r,
        )
        self.mails = Counter("idp_mails", "Mails by result (sent, failed)", ["result"], registry=r)
        self.request_seconds = Histogram(
            "idp_request_duration_seconds",
            "Request latency by Flask endpoint, method and status class",
            ["endpoint", "method", "status"],
            registry=r,
        )
        # Read from the database at each scrape: one number for every worker and host.
        self.mail_queue = Gauge(
            "idp_mail_queue_depth",
            "Mails waiting for the worker (status queued), reset requests it has yet to turn "
            "into mail included",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.db_checked_out = Gauge(
            "idp_db_connections_checked_out",
            "Database connections in use (checked out of the pool)",
            registry=r,
            multiprocess_mode="livesum",
        )

    def count_audit_event(self, name: str, detail: dict[str, Any]) -> None:
        """Move the counter an audit event stands for; other events count nothing."""
        factor = _known(detail.get("factor", ""), FACTORS)
        purpose = _known(detail.get("purpose", "sign_in"), PURPOSES)
        match name:
            case "password.verified" | "password.failed":
                self.sign_in_steps.labels("password", name.split(".")[1], "sign_in").inc()
            case "second_factor.verified" | "second_factor.failed":
                self.sign_in_steps.labels(factor, name.split(".")[1], purpose).inc()
            case "passkey.signed_in":
                self.sign_in_steps.labels("passkey", "verified", "sign_in").inc()
            case "passkey.failed":
                self.sign_in_steps.labels("passkey", "failed", "sign_in").inc()
            case "second_factor.skipped_trusted_device":
                self.trusted_device_skips.inc()
            case "factor.enrolled":
                self.enrollments.labels(factor).inc()
            case "password.throttled":
                self.lockouts.labels("password").inc()
            case "email_code.locked":
                self.lockouts.labels("email_code").inc()
            case "second_factor.locked":
                self.lockouts.labels(factor).inc()
            case "refresh_token.reused":
                self.refresh_reuse.inc()
            case "authorization_code.replayed":
                self.code_replays.inc()

    def exposition(self) -> bytes:
        """The text format a Prometheus scrape expects, over all workers in multiprocess mode."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def init_metrics(app: Flask) -> Metrics:
    """Create the app's metrics and follow its connection pool."""
    metrics = Metrics()
    app.extensions["idp.metrics"] = metrics
    with app.app_context():
        for engine in db.engines.values():
            # Events, not a callback read at scrape time: a callback gauge can't be multiprocess.
            event.listen(engine, "checkout", lambda *_: metrics.db_checked_out.inc())
            event.listen(engine, "checkin", lambda *_: metrics.db_checked_out.dec())
    return metrics


def metrics() -> Metrics | None:
    """The current app's metrics (None outside an app built by create_app)."""
    return current_app.extensions.get("idp.metrics")


def count_token(grant_type: str | None) -> None:
    """One token response issued."""
    if (found := metrics()) is not None:
        found.tokens_issued.labels(_known(grant_type, GRANTS)).inc()


def known_method(method: str) -> str:
    """The request method as a metric label: a fixed set, whatever clients send."""
    return _known(method, METHODS)


def count_mail(result: str) -> None:
    """One mail sent or failed."""
    if (found := metrics()) is not None:
        found.mails.labels(result).inc()
