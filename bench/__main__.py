"""`python -m bench`: gunicorn on PostgreSQL, then req/s per endpoint and sign-ins per second.

Environment: BENCH_SECONDS (5 per scenario), BENCH_CONCURRENCY (4 client threads),
BENCH_WORKERS (2 gunicorn sync workers), BENCH_USERS (for the sign-in scenario; 40 per second),
BENCH_DATABASE_URL (default .../idp_bench; dropped and made anew each run).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import cpu
from bench.client import Http
from bench.flows import CALLBACK
from bench.load import run
from bench.scenarios import HOST, scenarios

ROOT = Path(__file__).resolve().parent.parent
IDP = str(Path(sys.executable).with_name("idp"))  # the venv's console script
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
WORKERS = os.environ.get("BENCH_WORKERS", "2")
USERS = 2 * CONCURRENCY + int(os.environ.get("BENCH_USERS", int(40 * SECONDS)))
GUNICORN = [sys.executable, "-m", "gunicorn", "--workers", WORKERS, "--bind"]
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench"
)


def main() -> None:
    """Set up, measure every scenario, always tear down, then print and save the table."""
    server_url, _, name = DATABASE_URL.replace("+psycopg", "").rpartition("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the bench database's name must say bench")
    # A CI timeout's SIGTERM unwinds like Ctrl-C does: gunicorn stopped, database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    port = _free_port()
    meta = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "seconds": SECONDS,
        "concurrency": CONCURRENCY,
        "gunicorn_workers": WORKERS,
    }
    env = {
        "IDP_DATABASE_URL": DATABASE_URL,
        "IDP_ISSUER": f"http://{HOST}:{port}",
        "IDP_RATELIMIT_ENABLED": "false",
    }
    with (
        tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp,
        psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin,
    ):
        env = {**os.environ, **env, "IDP_INSTANCE_DIR": tmp, "IDP_KEYS_DIR": f"{tmp}/keys"}
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        server: subprocess.Popen[bytes] | None = None
        try:
            _run(env, IDP, "db", "upgrade")
            _run(env, IDP, "keys", "generate")
            seeded = json.loads(_run(env, sys.executable, "-m", "bench.seed", str(USERS), CALLBACK))
            log = Path(tmp) / "gunicorn.log"
            with log.open("wb") as out:  # as `make run` serves, minus the access log
                command = [*GUNICORN, f"{HOST}:{port}", "wsgi:app"]
                server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
            _wait_until_up(server, port, log)
            rows = _measure(port, seeded, server.pid, admin, name)
        finally:
            _stop(server)
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _report(rows, meta)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _commit() -> str:
    """The code measured, to compare runs over time ("" outside a git checkout)."""
    try:
        git = ["git", "describe", "--always", "--dirty"]
        return subprocess.run(git, cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def _run(env: dict[str, str], *command: str) -> str:
    """A set-up command (`idp db upgrade`, the seed) with the bench's settings; its stdout."""
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _wait_until_up(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once discovery answers; exit with gunicorn's log if it never does."""
    for _ in range(150):
        if server.poll() is not None:
            break
        try:
            if Http(HOST, port).request("GET", "/.well-known/openid-configuration").status == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not start:\n{log.read_text()[-3000:]}")


def _stop(server: subprocess.Popen[bytes] | None) -> None:
    """Stop gunicorn gracefully, or kill it after 15 s."""
    if server is None:
        return
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _measure(
    port: int, seeded: dict[str, Any], master: int, admin: psycopg.Connection[Any], db: str
) -> list[dict[str, Any]]:
    """Each scenario's result plus CPU per success: gunicorn workers, PostgreSQL, this process."""

    def snapshot() -> tuple[dict[int, float], dict[int, float], float]:
        backends = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (db,))
        pg = cpu.cpu_seconds([int(pid) for (pid,) in backends])
        return cpu.cpu_seconds(cpu.children(master)), pg, time.process_time()

    rows = []
    for name, factory in scenarios(port, seeded):
        steps = [factory() for _ in range(CONCURRENCY)]  # sign-ins a scenario needs happen here
        before = snapshot()
        result = run(name, steps, seconds=SECONDS)
        after = snapshot()
        per = 1000 / max(result.ok, 1)
        rows.append(
            asdict(result)
            | {
                "rate": round(result.ok / result.seconds, 1),
                "seconds": round(result.seconds, 2),
                "app_cpu_ms": round(cpu.spent_since(before[0], after[0]) * per, 2),
                "db_cpu_ms": round(cpu.spent_since(before[1], after[1]) * per, 2),
                "client_cpu_ms": round((after[2] - before[2]) * per, 2),
            }
        )
    return rows


def _report(rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    """The table on stdout; the same with the run's context in bench/results/latest.json."""
    columns = ("rate", "p50_ms", "p95_ms", "errors", "app_cpu_ms", "db_cpu_ms")
    titles = ("req/s", "p50 ms", "p95 ms", "errors", "app cpu ms", "db cpu ms")
    print(f"{'scenario':<26}" + "".join(f"{title:>11}" for title in titles))
    for row in rows:
        print(f"{row['scenario']:<26}" + "".join(f"{row[c]:>11}" for c in columns))
    for row in rows:
        if row["first_error"]:
            print(f"{row['scenario']}: first error: {row['first_error']}")
        if row["seconds"] < SECONDS:
            print(f"{row['scenario']}: ran out of users after {row['seconds']:.1f} s (BENCH_USERS)")
    print(
        f"({CONCURRENCY} client threads, {WORKERS} gunicorn workers, {SECONDS:g} s each, "
        f"{meta['cpus']} CPUs; cpu ms = server CPU per success; req/s counts successes)"
    )
    out = Path(__file__).parent / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
