"""`python -m bench.floor`: the refresh scenario's floor against hello-world, same gunicorn.

bench/floor_app.py does only what a refresh cannot do without (see its docstring), by hand, on
the provider's real schema (`idp db upgrade`). Served with the shipped gunicorn.conf.py (one
worker) like `make bench` serves the provider, and measured the same way: server CPU (the
worker + its PostgreSQL backends, from /proc) per success, as a multiple of Flask's
hello-world in the same run (the mean of a run before and one after). Pinned as BENCH_PIN=1
pins (server and backends on the first core, the load on the rest). Issue 15 asks the
provider's refresh for at most 5.5 x hello-world.

Environment: BENCH_SECONDS (10), BENCH_CONCURRENCY (4), FLOOR_ID_TOKEN_ALG (RS256; ES256),
BENCH_DATABASE_URL (default .../idp_bench_floor; dropped and made anew; must say bench).
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from hashlib import sha256
from pathlib import Path
from typing import Any

import psycopg

from bench import cpu, pinning
from bench.client import Http
from bench.floor_app import SECRET
from bench.flows import expect
from bench.load import run

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench_floor"
)
HOST, PORT = "127.0.0.1", 5178
BASIC = {"Authorization": "Basic " + base64.b64encode(f"bench:{SECRET}".encode()).decode()}


def main() -> None:
    """Schema, one user and token per client thread, then hello-world and the floor."""
    server_url, _, name = URL.replace("+psycopg", "").rpartition("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the database's name must say bench")
    server_cores, load_cores = pinning.split(1)
    pinning.pin_self(load_cores)
    dsn = f"{server_url}/{name}"
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            env = {**os.environ, "IDP_DATABASE_URL": URL, "FLOOR_DATABASE_URL": dsn}
            idp = str(Path(sys.executable).with_name("idp"))
            subprocess.run(
                [idp, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
            )
            tokens = _seed(dsn, CONCURRENCY)
            rows = []
            for label, wsgi, step in (
                ("hello-world", "bench.hello:app", _hello),
                ("floor: refresh", "bench.floor_app:app", _refresh),
                ("hello (after)", "bench.hello:app", _hello),
            ):
                steps = [step(token) for token in tokens]
                rows.append((label, *_measure(wsgi, steps, env, admin, name, server_cores)))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    hello = (rows[0][3] + rows[2][3]) / 2  # the machine's speed drifts within a run
    print(f"{'scenario':<16}{'req/s':>9}{'app ms':>9}{'db ms':>9}{'server ms':>11}{'x hello':>9}")
    for label, rate, app_ms, server_ms, db_ms in rows:
        print(
            f"{label:<16}{rate:>9.1f}{app_ms:>9.3f}{db_ms:>9.3f}{server_ms:>11.3f}"
            f"{server_ms / hello:>9.2f}"
        )
    alg = os.environ.get("FLOOR_ID_TOKEN_ALG", "RS256")
    print(
        f"({CONCURRENCY} client threads, {SECONDS:g} s each, 1 worker on core(s) "
        f"{server_cores}, ID token {alg}, load average {os.getloadavg()[0]:.2f})"
    )


def _seed(dsn: str, count: int) -> list[str]:
    """An active user and a live refresh token of the bench client for each thread."""
    tokens = []
    with psycopg.connect(dsn, autocommit=True) as db:
        for i in range(count):
            (user_id,) = db.execute(
                "INSERT INTO users (subject, email, email_verified, name, given_name, family_name,"
                " locale, roles, is_admin, failed_logins, created_at, updated_at) VALUES (%s, %s,"
                " true, '', '', '', '', '[]', false, 0, now(), now()) RETURNING id",
                (secrets.token_hex(16), f"floor{i}@bench.example"),
            ).fetchone()
            token = secrets.token_urlsafe(36)
            db.execute(
                "INSERT INTO tokens (client_id, user_id, family, sid, access_token_hash,"
                " refresh_token_hash, token_type, scope, issued_at, expires_in, authentication)"
                " VALUES ('bench', %s, %s, %s, %s, %s, 'Bearer', 'openid profile email"
                " offline_access', now(), 300, %s)",
                (
                    user_id,
                    f"code-{i}",
                    secrets.token_hex(16),
                    secrets.token_hex(32),
                    sha256(token.encode()).hexdigest(),
                    '{"auth_time": 1, "acr": "urn:idp:acr:mfa", "amr": ["pwd", "otp"]}',
                ),
            )
            tokens.append(token)
    return tokens


def _hello(_: str) -> Any:
    http = Http(HOST, PORT)
    return lambda: expect(http.request("GET", "/"), 200, "hello-world")


def _refresh(first: str) -> Any:
    http, latest = Http(HOST, PORT), [first]

    def step() -> None:
        form = {"grant_type": "refresh_token", "refresh_token": latest[0]}
        reply = expect(http.request("POST", "/token", form=form, headers=BASIC), 200, "refresh")
        latest[0] = reply.json()["refresh_token"]

    return step


def _measure(
    wsgi: str,
    steps: list[Any],
    env: dict[str, str],
    admin: psycopg.Connection[Any],
    db: str,
    cores: list[int],
) -> tuple[float, float, float, float]:
    """(req/s, app ms, server ms, db ms) per success, after one warm-up call per thread."""
    command = [*pinning.taskset(cores), sys.executable, "-m", "gunicorn", "--workers", "1"]
    log = open(os.devnull, "wb")  # noqa: SIM115 (closed with the server)
    server = subprocess.Popen(
        [*command, "--bind", f"{HOST}:{PORT}", wsgi], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    try:
        for _ in range(100):
            try:
                Http(HOST, PORT).request("GET", "/")
                break
            except OSError:
                time.sleep(0.1)
        for step in steps:
            step()  # connections open, statements prepared

        def backends() -> list[int]:
            found = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (db,))
            return [int(pid) for (pid,) in found]

        pinning.pin(backends(), cores)
        before = cpu.cpu_seconds(cpu.children(server.pid)), cpu.cpu_seconds(backends())
        result = run(wsgi, steps, seconds=SECONDS)
        after = cpu.cpu_seconds(cpu.children(server.pid)), cpu.cpu_seconds(backends())
    finally:
        server.terminate()
        server.wait()
        log.close()
    if result.errors:
        raise SystemExit(f"{wsgi}: {result.first_error}")
    per = 1000 / max(result.ok, 1)
    app_ms = cpu.spent_since(before[0], after[0]) * per
    db_ms = cpu.spent_since(before[1], after[1]) * per
    return result.ok / result.seconds, app_ms, app_ms + db_ms, db_ms


if __name__ == "__main__":
    main()
