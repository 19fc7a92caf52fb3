"""Real outages under load: a private Redis and a private PostgreSQL stopped and started again.

While down, pages answer 503 with Retry-After (never 500) and discovery and JWKS answer 200;
once back, sign-in works without restarting the app.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from idp import create_app
from idp.extensions import db
from idp.models.audit_event import AuditEvent
from tests.conftest import _delete_rows, base_overrides
from tests.private_services import PrivatePostgres, PrivateRedis
from tests.support import PASSWORD, make_user

pytestmark = pytest.mark.outage
MEMORY_PATHS = ("/.well-known/openid-configuration", "/jwks.json")


def serve(settings: dict[str, Any]) -> Iterator[tuple[Flask, str]]:
    """The app behind werkzeug's threaded server on a free port."""
    server = make_server("localhost", 0, lambda e, s: [], threaded=True)
    url = f"http://localhost:{server.server_port}"
    app = create_app({**settings, "issuer": url})
    app.config["TESTING"] = True  # an unexpected error is a 500, never a polite page
    server.app = app
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield app, url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def sign_in(url: str, browser: requests.Session | None = None) -> requests.Response:
    """The password step over HTTP: 302 to the next step when it worked."""
    browser = browser or requests.Session()
    page = browser.get(f"{url}/signin", timeout=10)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    data = {"csrf_token": token.group(1) if token else "", "email": "ada@example.com"}
    return browser.post(
        f"{url}/signin", data={**data, "password": PASSWORD}, allow_redirects=False, timeout=10
    )


def under_load(url: str, seconds: float, signed_in: requests.Session) -> list[tuple[str, int, str]]:
    """Four threads: sign-ins, a signed-in page, discovery, JWKS; (what, status, Retry-After)."""
    deadline = time.monotonic() + seconds

    def worker(n: int) -> list[tuple[str, int, str]]:
        seen = []
        while time.monotonic() < deadline:
            if n % 2:
                answer = sign_in(url)
                seen.append(("sign-in", answer.status_code, answer.headers.get("Retry-After", "")))
                page = signed_in.get(f"{url}/account/security", timeout=10)
                seen.append(("page", page.status_code, page.headers.get("Retry-After", "")))
            for path in MEMORY_PATHS:
                seen.append((path, requests.get(f"{url}{path}", timeout=10).status_code, ""))
        return seen

    with ThreadPoolExecutor(4) as pool:
        return [item for batch in pool.map(worker, range(4)) for item in batch]


def events(app: Flask, name: str) -> int:
    with app.app_context():
        return db.session.scalars(select(AuditEvent.event)).all().count(name)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    """A migrated private cluster for this module."""
    cluster = PrivatePostgres()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def on_postgres(
    postgres: PrivatePostgres, _environment: dict[str, Any], tmp_path: Path
) -> Iterator[tuple[Flask, str]]:
    """A live provider on the private cluster, with Ada signed up."""
    settings = base_overrides(tmp_path, postgres.url, _environment["keys_dir"])
    settings.update(db_connect_timeout_seconds=2, db_statement_timeout_ms=1000)
    for app, url in serve(settings):
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            _delete_rows()
        make_user(app)
        yield app, url


def test_postgresql_stopped_under_load_answers_503_then_heals(postgres, on_postgres):
    _app, url = on_postgres
    signed_in = requests.Session()
    assert sign_in(url, signed_in).status_code == 302
    postgres.stop()
    try:
        seen = under_load(url, 1.5, signed_in)
    finally:
        postgres.start()
    pages = [(status, retry) for what, status, retry in seen if what in ("sign-in", "page")]
    assert pages and all(status == 503 and retry.isdigit() for status, retry in pages), pages
    assert {status for what, status, _ in seen if what in MEMORY_PATHS} == {200}
    assert sign_in(url).status_code == 302  # no restart: the pool reconnects
    assert signed_in.get(f"{url}/account/security", timeout=10).status_code != 503


def test_a_hung_table_times_out_into_503_while_discovery_answers(postgres, on_postgres):
    _app, url = on_postgres
    signed_in = requests.Session()
    assert sign_in(url, signed_in).status_code == 302
    holder = psycopg.connect(f"host=127.0.0.1 port={postgres.port} user=postgres dbname=postgres")
    try:
        holder.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")  # until rollback
        started = time.monotonic()
        page = signed_in.get(f"{url}/account/security", timeout=10)
        assert page.status_code == 503 and page.headers["Retry-After"]
        assert time.monotonic() - started < 4  # the statement timeout, not a worker kill
        assert requests.get(f"{url}{MEMORY_PATHS[0]}", timeout=10).status_code == 200
    finally:
        holder.rollback()
        holder.close()
    assert signed_in.get(f"{url}/account/security", timeout=10).status_code != 503


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_stopped_under_load_falls_back_to_memory_then_back(
    private_redis, _environment, tmp_path
):
    settings = base_overrides(tmp_path, _environment["url"], _environment["keys_dir"])
    settings.update(ratelimit_enabled=True, ratelimit_storage_url=private_redis.url)
    for app, url in serve(settings):
        with app.app_context():
            _delete_rows()
        make_user(app)
        # Flask-Limiter re-checks a dead storage with exponential backoff; the app's limiter
        # is new, so recovery comes within seconds, as in a new worker.
        assert sign_in(url).status_code == 302
        private_redis.stop()
        seen = under_load(url, 1.0, requests.Session())
        private_redis.start()
        assert {status for _, status, _ in seen} <= {200, 302, 429}  # counted, never a 500
        assert events(app, "ratelimit.storage_unavailable") == 1
        deadline = time.monotonic() + 10
        while not events(app, "ratelimit.storage_recovered") and time.monotonic() < deadline:
            assert sign_in(url).status_code in (302, 429)
            time.sleep(0.2)
        assert events(app, "ratelimit.storage_recovered") == 1
        redis.Redis.from_url(private_redis.url).flushall()
        assert sign_in(url).status_code == 302
        assert redis.Redis.from_url(private_redis.url).dbsize() > 0  # counting in Redis again
