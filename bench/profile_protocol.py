"""`python -m bench.profile_protocol`: app CPU of the relying parties' calls, in process.

client_credentials, refresh (rotation, always the newest token) and userinfo, as `make bench`
sends them, driven through the WSGI app with Flask's test client on PostgreSQL: no HTTP, no
gunicorn, PostgreSQL's CPU not included. Set up like bench.profile_signin (a fresh database,
keys, bench.seed's client and users); a sign-in through the real pages gives the tokens.

Environment: BENCH_ACCESS_TOKEN_FORMAT (opaque; jwt), PROFILE_BATCHES (7) batches of
PROFILE_CALLS (200) calls per scenario, the best batch's mean shown; PROFILE_CPROFILE=1 with
PROFILE_ONLY=<scenario> profiles that scenario's measured calls (PROFILE_SORT, PROFILE_LINES);
PROFILE_SQL=1 lists one call's statements per scenario (not userinfo's read: it runs on the
driver's connection, idp.driver_statements.OneRowRead, which engine events do not see). PROFILE_PG=1
adds PostgreSQL's CPU per call: its backends on the bench database (utime + stime from /proc,
10 ms ticks: raise PROFILE_CALLS for a finer figure), the best batch's mean.
"""

from __future__ import annotations

import base64
import cProfile
import json
import os
import pstats
import time
from typing import Any

from bench import cpu
from bench.profile_signin import DATABASE_URL, Environ, Meter, seeded_database, sign_in

BATCHES = int(os.environ.get("PROFILE_BATCHES", "7"))
CALLS = int(os.environ.get("PROFILE_CALLS", "200"))


class Capture(Meter):
    """A Meter that keeps the last body it passed on (the code exchange's tokens)."""

    last: bytes = b""

    def __call__(self, environ: Environ, start_response: Any) -> list[bytes]:
        chunks = super().__call__(environ, start_response)
        self.last = b"".join(chunks)
        return chunks


def main() -> None:
    """Sign in once, then call each endpoint in batches; print the best batch means."""
    with seeded_database(2) as seeded:
        _measure(seeded)


def _measure(seeded: dict[str, Any]) -> None:
    from idp import create_app
    from idp.extensions import db

    app = create_app()
    meter = Capture(app.wsgi_app)
    app.wsgi_app = meter  # type: ignore[method-assign]
    client_id, secret = seeded["client_id"], seeded["secret"]
    sign_in(app, meter, client_id=client_id, secret=secret, user=seeded["users"][0])
    tokens = json.loads(meter.last)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    http = app.test_client()
    refresh = [tokens["refresh_token"]]

    def client_credentials() -> None:
        reply = http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert reply.status_code == 200, reply.data

    def rotate() -> None:
        reply = http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh[0]},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert reply.status_code == 200, reply.data
        refresh[0] = reply.get_json()["refresh_token"]

    def userinfo() -> None:
        reply = http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert reply.status_code == 200, reply.data

    scenarios = {"client_credentials": client_credentials, "refresh": rotate, "userinfo": userinfo}
    if os.environ.get("PROFILE_SQL") == "1":
        _show_statements(app, scenarios)
    only = os.environ.get("PROFILE_ONLY", "")
    profile = (
        cProfile.Profile(time.process_time) if os.environ.get("PROFILE_CPROFILE") == "1" else None
    )
    backends = _backends() if os.environ.get("PROFILE_PG") == "1" else None
    print(f"app CPU per call, ms: best batch mean of {BATCHES} x {CALLS}, warm")
    for label, call in scenarios.items():
        meter.label = label
        for _ in range(50):
            call()
        means, pg_means = [], []
        for _ in range(BATCHES):
            meter.spent.clear()
            meter.profile = profile if only in ("", label) else None
            pg_before = cpu.cpu_seconds(backends()) if backends else {}
            for _ in range(CALLS):
                call()
            if backends:
                pg_means.append(cpu.spent_since(pg_before, cpu.cpu_seconds(backends())) / CALLS)
            meter.profile = None
            means.append(sum(meter.spent[label]) / CALLS)
        shown = ", ".join(f"{m * 1000:.3f}" for m in sorted(means))
        print(f"  {min(means) * 1000:7.3f}  {label:20s} (batches: {shown})")
        if pg_means:
            shown = ", ".join(f"{m * 1000:.3f}" for m in sorted(pg_means))
            print(f"  {min(pg_means) * 1000:7.3f}  {'  PostgreSQL':20s} (batches: {shown})")
    with app.app_context():
        db.engine.dispose()
    if profile is not None:
        stats = pstats.Stats(profile)
        stats.sort_stats(os.environ.get("PROFILE_SORT", "tottime"))
        stats.print_stats(int(os.environ.get("PROFILE_LINES", "50")))


def _backends() -> Any:
    """PROFILE_PG=1: a function listing the PostgreSQL backends on the bench database."""
    import psycopg

    server_url, _, name = DATABASE_URL.replace("+psycopg", "").rpartition("/")
    admin = psycopg.connect(f"{server_url}/postgres", autocommit=True)

    def backends() -> list[int]:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
        return [pid for (pid,) in rows]

    return backends


def _show_statements(app: Any, scenarios: dict[str, Any]) -> None:
    """PROFILE_SQL=1: the statements of one call of each scenario."""
    from sqlalchemy import event

    from idp.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split())[:160])

    event.listen(engine, "before_cursor_execute", executed)
    for label, call in scenarios.items():
        seen.clear()
        call()
        print(f"{label}: {len(seen)} statements")
        for statement in seen:
            print(f"  {statement}")
    event.remove(engine, "before_cursor_execute", executed)


if __name__ == "__main__":
    main()
