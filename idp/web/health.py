"""What a load balancer or orchestrator polls: /healthz (alive) and /readyz (able to serve)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from flask.blueprints import BlueprintSetupState

from idp.extensions import db, limiter
from idp.readiness import ReadinessChecks

bp = Blueprint("health", __name__)
limiter.exempt(bp)  # polled every second by our own infrastructure


@bp.record_once
def _create_checks(state: BlueprintSetupState) -> None:
    app = state.app
    keys = app.extensions["idp.oidc"].keys
    app.extensions["idp.readiness"] = ReadinessChecks(app.extensions["idp.settings"], keys=keys)


def _uncached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers: no database, no session, nothing that could be down."""
    return _uncached(jsonify(status="ok"))


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Database, signing key and rate-limit store, each within a short deadline; 503 if not."""
    result = current_app.extensions["idp.readiness"].run(db.engine)
    status = "ok" if result.ready else "unavailable"
    return _uncached(jsonify(status=status, checks=result.checks)), 200 if result.ready else 503
