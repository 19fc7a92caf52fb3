"""Fixtures: app, client, clock, outbox; SQLite by default, PostgreSQL via IDP_TEST_DATABASE_URL."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import StrictUndefined
from limits.storage import MemoryStorage
from sqlalchemy import create_engine, event, text
from werkzeug.serving import make_server

from idp import create_app
from idp.clock import Clock
from idp.extensions import db
from idp.oidc.keys import KeyStore
from idp.rate_limiter import limiter_of
from idp.web.sweeper import Sweeper
from tests import scheduling

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
        # The passkey offer after a code sign-in would stand between most flows and the RP;
        # its own tests (tests/web/test_passkey_offer.py) turn it on.
        "passkey_offer": False,
    }


@pytest.fixture(scope="session")
def _environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Migrate a database once per run and make signing keys."""
    root = tmp_path_factory.mktemp("idp")
    url = TEST_DATABASE_URL or f"sqlite:///{root / 'test.db'}"
    schema = None
    if url.startswith("postgresql"):
        # A schema of our own: two runs on one database (CI and a developer) never collide.
        schema = f"idp_test_{os.getpid()}"
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
        engine.dispose()
        # Durability across a crash is not under test: no WAL flush waited for per commit.
        options = f"-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"
        url += ("&" if "?" in url else "?") + f"options={options}"
    keys_dir = root / "keys"
    KeyStore(keys_dir).ensure()
    app = create_app(base_overrides(root, url, keys_dir))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    yield {"root": root, "url": url, "keys_dir": keys_dir}
    if schema:
        engine = create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Per-test settings changes; override this fixture in a module to change them."""
    return {}


def _build(settings: dict[str, Any]) -> Flask:
    """A test app: errors raise, undefined template names fail, SQLite commits without fsync."""
    application = create_app(settings)
    application.config["TESTING"] = True
    application.jinja_env.undefined = StrictUndefined
    with application.app_context():
        if db.engine.dialect.name == "sqlite":
            # Durability across power loss is not under test; fsync per commit dominates.
            event.listen(db.engine, "connect", _sqlite_without_fsync)
    return application


def _close(application: Flask) -> None:
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def fresh_app(
    _environment: dict[str, Any], tmp_path: Path, overrides: dict[str, Any]
) -> Iterator[Flask]:
    """An app built for this test alone, on empty tables.

    For tests that change the app itself (its config, its hooks); everything else uses `app`.
    """
    settings = base_overrides(tmp_path, _environment["url"], _environment["keys_dir"])
    settings.update(overrides)
    application = _build(settings)
    with application.app_context():
        _delete_rows()
    yield application
    _close(application)


@pytest.fixture
def app(reused_app: Flask) -> Flask:
    """The app for this test's `overrides`, on empty tables, its clock at now, no mail queued."""
    return reused_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser: its own cookie jar."""
    return app.test_client()


@pytest.fixture
def clock(app: Flask) -> Clock:
    """The app's clock; tests advance it instead of sleeping."""
    return app.extensions["idp.clock"]


@dataclass
class LiveServer:
    """A provider served over real HTTP on a free port; its issuer is its own URL."""

    app: Flask
    url: str

    @property
    def clock(self) -> Clock:
        """The served app's clock."""
        return self.app.extensions["idp.clock"]


def _not_ready(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@pytest.fixture
def live_server(
    _environment: dict[str, Any], tmp_path: Path, overrides: dict[str, Any]
) -> Iterator[LiveServer]:
    """The provider behind werkzeug's threaded server, for real HTTP clients (RPs, browsers).

    The socket is bound first so the issuer can name the port; the app is built for it.
    """
    server = make_server("localhost", 0, _not_ready, threaded=True)
    url = f"http://localhost:{server.server_port}"
    settings = base_overrides(tmp_path, _environment["url"], _environment["keys_dir"])
    settings.update(overrides)
    settings["issuer"] = url
    application = _build(settings)
    with application.app_context():
        _delete_rows()
    server.app = application
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True
    )
    thread.start()
    try:
        yield LiveServer(app=application, url=url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        _close(application)


_DELETE_SCRIPTS: dict[str, str] = {}


def _delete_rows() -> None:
    """Empty every table in one round trip; on small tables DELETE beats TRUNCATE by far."""
    dialect = db.engine.dialect.name
    script = _DELETE_SCRIPTS.get(dialect)
    if script is None:
        tables = reversed(db.metadata.sorted_tables)
        script = "; ".join(str(table.delete().compile(db.engine)) for table in tables)
        _DELETE_SCRIPTS[dialect] = script
    if dialect == "sqlite":
        # One call into SQLite for every table, in one transaction (executescript commits
        # whatever is pending first, so the session's own transaction is closed beforehand).
        db.session.commit()
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.executescript(f"BEGIN; {script}; COMMIT;")
        finally:
            raw.close()
    else:
        db.session.execute(text(script))
        db.session.commit()


def _sqlite_without_fsync(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA synchronous=OFF")


# Apps kept at once: modules with their own `overrides` run together even in random order,
# and on PostgreSQL every kept app holds pooled connections.
KEPT_APPS = 4


@pytest.fixture(scope="session")
def _reused_apps() -> Iterator[dict[tuple[tuple[str, str], ...], Flask]]:
    """Apps built once per distinct `overrides`, the most recently used last."""
    apps: dict[tuple[tuple[str, str], ...], Flask] = {}
    yield apps
    for application in apps.values():
        _close(application)


@pytest.fixture
def reused_app(
    _environment: dict[str, Any],
    _reused_apps: dict[tuple[tuple[str, str], ...], Flask],
    tmp_path_factory: pytest.TempPathFactory,
    overrides: dict[str, Any],
) -> Iterator[Flask]:
    """An app built once per `overrides`, handed to each test as if new.

    Building an app costs about a quarter of a second (URL map, templates, parsing the RSA
    key). What an app keeps between requests is put back here: empty tables and outbox, the
    clock at now, no rate-limit counts. A test that changes the app itself uses `fresh_app`.
    """
    key = tuple(sorted((name, repr(value)) for name, value in overrides.items()))
    application = _reused_apps.pop(key, None)
    if application is None:
        root = tmp_path_factory.mktemp("reused-app")
        settings = base_overrides(root, _environment["url"], _environment["keys_dir"])
        settings.update(overrides)
        application = _build(settings)
        while len(_reused_apps) >= KEPT_APPS:
            _close(_reused_apps.pop(next(iter(_reused_apps))))
    _reused_apps[key] = application
    application.extensions["idp.clock"].offset = timedelta()
    shutil.rmtree(application.extensions["idp.settings"].outbox_dir, ignore_errors=True)
    _forget_rate_limits(application)
    for hook in application.teardown_request_funcs.get(None, []):
        if isinstance(hook, Sweeper):
            hook.next_at = None  # it would wait for a time the last test's clock had reached
    with application.app_context():
        _delete_rows()
    yield application
    with application.app_context():
        db.session.remove()


def _forget_rate_limits(application: Flask) -> None:
    """Counts start at zero; a test's own Redis database is flushed by the test."""
    own = limiter_of(application)
    if own.initialized:
        for storage in (own.storage, getattr(own, "_fallback_storage", None)):
            if isinstance(storage, MemoryStorage):
                storage.reset()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One node id per test: schemathesis names each operation's test `name[GET /path]`, but
    under pytest 9 all of them share the function's node id. pytest-xdist sends tests to its
    workers by node id, so 22 of the 23 admin API operations would silently never run."""
    for item in items:
        original = getattr(item, "originalname", item.name)
        if item.name.startswith(f"{original}[") and item.nodeid.endswith(f"::{original}"):
            params = item.name.removeprefix(original)[1:-1]
            item._id = item.parent.id.child(original).with_params(params)  # type: ignore[union-attr]
    seen: set[str] = set()
    for item in items:
        if item.nodeid in seen:
            raise pytest.UsageError(f"two tests share the node id {item.nodeid}")
        seen.add(item.nodeid)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Name the order's seed even under -q: a failure in random order replays with it."""
    seed = getattr(config.option, "randomly_seed", None)
    if seed is not None and config.pluginmanager.has_plugin("randomly"):
        terminalreporter.write_line(f"random test order: pytest -p randomly --randomly-seed={seed}")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile` sends the costliest files (and browser tests) out first."""
    if config.getvalue("dist") != "loadfile":
        return None
    return scheduling.make_scheduler(config, log)


def pytest_configure(config: pytest.Config) -> None:
    """Each unit's seconds are kept for the next run's order (where the results arrive:
    in the controller under xdist, in this process without it)."""
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(scheduling.UnitTimes(config), "idp-unit-times")
