"""Fixtures: app, client, clock, outbox; SQLite by default, PostgreSQL via IDP_TEST_DATABASE_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import StrictUndefined
from sqlalchemy import text

from idp import create_app
from idp.clock import Clock
from idp.extensions import db
from idp.oidc.keys import KeyStore

TEST_DATABASE_URL = os.environ.get("IDP_TEST_DATABASE_URL", "")
ISSUER = "http://localhost"


def base_overrides(tmp: Path, database_url: str, keys_dir: Path) -> dict[str, Any]:
    """Settings for a test app: cheap argon2 (parameters are not what is under test)."""
    return {
        "issuer": ISSUER,
        "instance_dir": str(tmp / "instance"),
        "database_url": database_url,
        "keys_dir": str(keys_dir),
        "secret_key": "test-secret-key",
        "env": "test",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "ratelimit_enabled": False,
        "support_email": "help@insurer.example",
    }


@pytest.fixture(scope="session")
def _environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Migrate a database once per run and make signing keys."""
    root = tmp_path_factory.mktemp("idp")
    url = TEST_DATABASE_URL or f"sqlite:///{root / 'test.db'}"
    keys_dir = root / "keys"
    KeyStore(keys_dir).ensure()
    app = create_app(base_overrides(root, url, keys_dir))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        from flask_migrate import upgrade

        upgrade()
    return {"root": root, "url": url, "keys_dir": keys_dir}


def _empty_tables() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Per-test settings changes; override this fixture in a module to change them."""
    return {}


@pytest.fixture
def app(_environment: dict[str, Any], tmp_path: Path, overrides: dict[str, Any]) -> Iterator[Flask]:
    """A fresh app on empty tables."""
    settings = base_overrides(tmp_path, _environment["url"], _environment["keys_dir"])
    settings.update(overrides)
    application = create_app(settings)
    application.config["TESTING"] = True
    application.jinja_env.undefined = StrictUndefined
    with application.app_context():
        _empty_tables()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser: its own cookie jar."""
    return app.test_client()


@pytest.fixture
def clock(app: Flask) -> Clock:
    """The app's clock; tests advance it instead of sleeping."""
    return app.extensions["idp.clock"]
