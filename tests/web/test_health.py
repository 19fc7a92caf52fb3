"""/healthz and /readyz: what a load balancer polls; cheap, anonymous, leaving no trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from idp import create_app
from idp.extensions import db
from idp.models.session import SessionRecord
from tests.conftest import base_overrides


def test_healthz_answers_without_the_database(tmp_path: Path, _environment: dict[str, Any]) -> None:
    app = create_app(base_overrides(tmp_path, "sqlite:////nonexistent/idp.db", tmp_path / "none"))

    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_each_check(client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "signing_key": "ok", "redis": "skipped"},
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_polling_every_second_stores_nothing_and_sets_no_cookie(app, client) -> None:
    for _ in range(20):
        for path in ("/healthz", "/readyz"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert "Set-Cookie" not in response.headers, path

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SessionRecord)) == 0


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"database_url": "sqlite:////nonexistent/idp.db"}, "database"),
        ({"keys_dir": "EMPTY"}, "signing_key"),
        ({"ratelimit_storage_url": "redis://127.0.0.1:1"}, "redis"),
    ],
)
def test_readyz_is_503_when_a_dependency_is_down(
    tmp_path: Path, _environment: dict[str, Any], change: dict[str, str], failing: str
) -> None:
    settings = base_overrides(tmp_path, _environment["url"], _environment["keys_dir"])
    settings.update(change)
    if settings["keys_dir"] == "EMPTY":
        settings["keys_dir"] = str(tmp_path / "no-keys")
    app = create_app(settings)

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"][failing].startswith("failed")
    assert [name for name, result in body["checks"].items() if result.startswith("failed")] == [
        failing
    ]
    with app.app_context():
        db.engine.dispose()
