"""Redis away: rate limits count in this process, the switch is audited once, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from idp import create_app
from idp.extensions import db
from idp.models.audit_event import AuditEvent
from idp.rate_limiter import limiter_of
from tests.conftest import base_overrides
from tests.support import csrf_of, make_user


def build(environment: dict[str, Any], tmp_path: Path) -> Flask:
    settings = base_overrides(tmp_path, environment["url"], environment["keys_dir"])
    # Nothing listens on port 1: Redis refuses every connection.
    settings.update(ratelimit_enabled=True, ratelimit_storage_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


def test_password_posts_are_counted_in_memory_and_the_fallback_is_audited_once(
    app, _environment, tmp_path
):
    make_user(app)
    redis_down = build(_environment, tmp_path)
    browser = redis_down.test_client()
    token = csrf_of(browser.get("/signin"))
    form = {"csrf_token": token, "email": "ada@example.com", "password": "wrong-guess-000"}
    statuses = [browser.post("/signin", data=form).status_code for _ in range(22)]
    assert set(statuses) <= {401, 423, 429} and statuses[-1] == 429  # 20/minute still holds
    with redis_down.app_context():
        events = db.session.scalars(select(AuditEvent.event)).all()
    assert events.count("ratelimit.storage_unavailable") == 1
    assert limiter_of(redis_down)._storage_dead  # Flask-Limiter's flag, seen by idp.rate_limiter
