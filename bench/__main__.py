"""`python -m bench`: gunicorn on PostgreSQL, then req/s per endpoint and sign-ins per second.

Each worker count runs Flask's hello-world under the same gunicorn settings before and after
the provider: the CPU a scenario costs the server (workers + PostgreSQL backends) is also given
as a multiple of the mean of the two.

Environment: BENCH_SECONDS (5 per scenario), BENCH_CONCURRENCY (4 client threads),
BENCH_WORKERS (gunicorn workers, a comma-separated list: "1,2"), BENCH_ACCESS_TOKEN_FORMAT
(the bench client's: opaque, or jwt for RFC 9068 access tokens), BENCH_PIN (1: server and its
PostgreSQL backends on their own cores, the load on the rest), BENCH_USERS (for the sign-in
scenario; 40 per second), BENCH_DATABASE_URL (default .../idp_bench; dropped and made anew).
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

from bench import cpu, pinning
from bench.client import Http
from bench.flows import CALLBACK, expect
from bench.load import run
from bench.scenarios import HOST, scenarios

ROOT = Path(__file__).resolve().parent.parent
IDP = str(Path(sys.executable).with_name("idp"))  # the venv's console script
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
WORKER_COUNTS = [int(n) for n in os.environ.get("BENCH_WORKERS", "1,2").split(",")]
PIN = os.environ.get("BENCH_PIN", "") == "1"
# Users one run (one worker count) signs in: refresh and userinfo threads, then the sign-ins.
USERS_PER_RUN = 2 * CONCURRENCY + int(os.environ.get("BENCH_USERS", int(40 * SECONDS)))
HELLO, HELLO_AFTER = "hello-world", "hello-world (after)"
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
        "gunicorn_workers": WORKER_COUNTS,
        "pinned": PIN,
        "access_token_format": os.environ.get("BENCH_ACCESS_TOKEN_FORMAT", "opaque"),
    }
    env = {
        "IDP_DATABASE_URL": DATABASE_URL,
        "IDP_ISSUER": f"http://{HOST}:{port}",
        "IDP_RATELIMIT_ENABLED": "false",
        # The measured sign-in is password + TOTP + code exchange (issue 15); the one-time
        # "Sign in faster with a passkey" page would add a stop for every fresh bench user.
        "IDP_PASSKEY_OFFER": "false",
    }
    with (
        tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp,
        psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin,
    ):
        env = {**os.environ, **env, "IDP_INSTANCE_DIR": tmp, "IDP_KEYS_DIR": f"{tmp}/keys"}
        # This checkout's code (and migrations), whichever checkout the venv was installed from.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        rows: list[dict[str, Any]] = []
        try:
            _run(env, IDP, "db", "upgrade")
            _run(env, IDP, "keys", "generate")
            users = str(USERS_PER_RUN * len(WORKER_COUNTS))
            seeded = json.loads(_run(env, sys.executable, "-m", "bench.seed", users, CALLBACK))
            for i, workers in enumerate(WORKER_COUNTS):
                share = seeded["users"][i * USERS_PER_RUN : (i + 1) * USERS_PER_RUN]
                rows += _run_workers(workers, env, port, {**seeded, "users": share}, admin, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _report(rows, meta)


def _run_workers(
    workers: int,
    env: dict[str, str],
    port: int,
    seeded: dict[str, Any],
    admin: psycopg.Connection[Any],
    db: str,
) -> list[dict[str, Any]]:
    """Hello-world, then the provider, each under gunicorn with `workers` workers."""
    prefix: list[str] = []
    server_cores: list[int] = []
    if PIN:
        server_cores, load_cores = pinning.split(workers)
        pinning.pin_self(load_cores)
        prefix = pinning.taskset(server_cores)
    # As `make run` serves (gunicorn.conf.py from the same directory), minus the access log.
    gunicorn = [*prefix, sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind"]
    rows = []
    # Hello-world before and after the provider: the machine's speed drifts within a run (a
    # shared host), and the multiples are read against the mean of the two.
    for app, path in (
        ("bench.hello:app", "/"),
        ("wsgi:app", "/.well-known/openid-configuration"),
        ("bench.hello:app", "/"),
    ):
        log = Path(env["IDP_INSTANCE_DIR"]) / "gunicorn.log"
        server: subprocess.Popen[bytes] | None = None
        try:
            with log.open("wb") as out:
                command = [*gunicorn, f"{HOST}:{port}", app]
                server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
            _wait_until_up(server, port, log, path)
            hello = HELLO if not rows else HELLO_AFTER
            named = [(hello, _hello(port))] if app == "bench.hello:app" else scenarios(port, seeded)
            rows += _measure(named, server.pid, admin, db, server_cores)
        except Exception:
            print(f"gunicorn's log:\n{log.read_text()[-3000:]}", file=sys.stderr)
            raise
        finally:
            _stop(server)
    for row in rows:
        row["server_cpu_ms"] = round(row["app_cpu_ms"] + row["db_cpu_ms"], 2)
    hellos = [row["server_cpu_ms"] for row in rows if row["scenario"] in (HELLO, HELLO_AFTER)]
    ceiling = max(sum(hellos) / len(hellos), 1e-9)
    for row in rows:
        row["workers"] = workers
        row["x_hello"] = round(row["server_cpu_ms"] / ceiling, 1)
        row["cores"] = ",".join(map(str, server_cores)) or "any"
    return rows


def _hello(port: int) -> Any:
    def factory() -> Any:
        http = Http(HOST, port)
        return lambda: expect(http.request("GET", "/"), 200, "hello-world")

    return factory


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


def _wait_until_up(server: subprocess.Popen[bytes], port: int, log: Path, path: str) -> None:
    """Return once `path` answers; exit with gunicorn's log if it never does."""
    for _ in range(150):
        if server.poll() is not None:
            break
        try:
            if Http(HOST, port).request("GET", path).status == 200:
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
    named: list[tuple[str, Any]],
    master: int,
    admin: psycopg.Connection[Any],
    db: str,
    server_cores: list[int],
) -> list[dict[str, Any]]:
    """Each scenario's result plus CPU per success: gunicorn workers, PostgreSQL, this process."""

    def backends() -> list[int]:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (db,))
        return [int(pid) for (pid,) in rows]

    def snapshot() -> tuple[dict[int, float], dict[int, float], float]:
        pg = cpu.cpu_seconds(backends())
        return cpu.cpu_seconds(cpu.children(master)), pg, time.process_time()

    rows = []
    for name, factory in named:
        steps = [factory() for _ in range(CONCURRENCY)]  # sign-ins a scenario needs happen here
        if server_cores:
            # Backends connect when a worker first needs one: the set-up above opened them.
            pinning.pin(backends(), server_cores)
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
    columns = ("workers", "rate", "p50_ms", "p95_ms", "errors")
    columns += ("app_cpu_ms", "db_cpu_ms", "server_cpu_ms", "x_hello")
    titles = ("workers", "req/s", "p50 ms", "p95 ms", "errors")
    titles += ("app cpu ms", "db cpu ms", "server ms", "x hello")
    print(f"{'scenario':<26}" + "".join(f"{title:>11}" for title in titles))
    for row in rows:
        print(f"{row['scenario']:<26}" + "".join(f"{row[c]:>11}" for c in columns))
    for row in rows:
        if row["first_error"]:
            print(f"{row['scenario']}: first error: {row['first_error']}")
        if row["seconds"] < SECONDS:
            print(f"{row['scenario']}: ran out of users after {row['seconds']:.1f} s (BENCH_USERS)")
    cores = {row["workers"]: row["cores"] for row in rows}
    pinned = ", ".join(f"{n} worker(s) on core(s) {c}" for n, c in cores.items())
    print(
        f"({CONCURRENCY} client threads, {SECONDS:g} s each, {meta['cpus']} CPUs, "
        f"{pinned if PIN else 'not pinned'}, load average {meta['loadavg_before']}; "
        "server ms = CPU of gunicorn workers + PostgreSQL backends per success, "
        "x hello = that over the mean of the two hello-world runs; req/s counts successes)"
    )
    out = Path(__file__).parent / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
