"""`python -m bench.enumeration_timing`: does an existing account answer slower than an unknown one?

Times "forgot password" and a wrong password for an existing and an unknown email, interleaved
in random order so drift (other jobs on the machine) hits both alike, and prints medians of the
wall time and of this process's CPU time per request (which hardly moves when the machine is
busy; for PostgreSQL it leaves out the server's share).
In-process (Flask test client) with the production argon2id parameters, on SQLite in a temporary
folder or on PostgreSQL (ENUM_DATABASE_URL=postgresql+psycopg://...; a schema of its own, dropped
afterwards). Mail goes wherever IDP_SMTP_URL says: the outbox folder by default.

Environment: ENUM_REQUESTS (200 per scenario and kind), ENUM_DATABASE_URL (SQLite by default).
"""

from __future__ import annotations

import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, text

from idp import create_app

REQUESTS = int(os.environ.get("ENUM_REQUESTS", "200"))
DATABASE_URL = os.environ.get("ENUM_DATABASE_URL", "")
EXISTING, UNKNOWN = "ada@example.com", "nobody@example.com"
PASSWORD = "correct-horse-battery-staple-42"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _app(folder: Path, database_url: str) -> Flask:
    overrides: dict[str, Any] = {
        "instance_dir": str(folder / "instance"),
        "keys_dir": str(folder / "keys"),
        "database_url": database_url,
        "ratelimit_enabled": False,  # we time the work, not the limiter
        # Never locked: the locked path is a different (shorter) one for every account alike.
        "login_max_failures": 10**9,
    }
    app = create_app(overrides)
    with app.app_context():
        from flask_migrate import upgrade

        from idp.manage.commands.users import create_user
        from idp.oidc.keys import KeyStore

        KeyStore(Path(overrides["keys_dir"])).ensure()
        upgrade()
        create_user(email=EXISTING, password=PASSWORD, name="Ada", activated=True)
    return app


Times = dict[tuple[str, str], list[tuple[float, float]]]


def _measure(app: Flask) -> Times:
    browser = app.test_client()
    forms = {
        "forgot password": ("/signin/forgot", lambda email: {"email": email}),
        "wrong password": ("/signin", lambda email: {"email": email, "password": "wrong-guess-1"}),
    }
    tokens = {}
    for name, (path, _) in forms.items():
        match = CSRF.search(browser.get(path).text)
        assert match, f"no CSRF token on {path}"
        tokens[name] = match.group(1)
    runs = [(name, email) for name in forms for email in (EXISTING, UNKNOWN)]
    times: Times = {run: [] for run in runs}
    for round_ in range(REQUESTS + 5):  # the first rounds warm caches and are not counted
        if round_ % 50 == 0:
            _forget_failures(app)  # under the account cap (100 in a row), for both emails alike
        random.shuffle(runs)
        for name, email in runs:
            path, form = forms[name]
            started, cpu = time.perf_counter(), time.process_time()
            response = browser.post(path, data={"csrf_token": tokens[name], **form(email)})
            elapsed = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
            assert response.status_code in (200, 401), (name, email, response.status_code)
            if round_ >= 5:
                times[(name, email)].append(elapsed)
    return times


def _forget_failures(app: Flask) -> None:
    from sqlalchemy import delete

    from idp.extensions import db
    from idp.models.sign_in_failure import SignInFailure

    with app.app_context():
        db.session.execute(delete(SignInFailure))
        db.session.commit()


def _report(times: Times, database: str) -> None:
    print(f"{REQUESTS} requests each, {database}, load average {os.getloadavg()[0]:.1f}")
    print("| request | account | wall ms: median (p10-p90) | app cpu ms: median |")
    print("| --- | --- | --- | --- |")
    for name in ("forgot password", "wrong password"):
        for email, label in ((EXISTING, "existing"), (UNKNOWN, "unknown")):
            wall = [w for w, _ in times[(name, email)]]
            deciles = statistics.quantiles(wall, n=10)
            cpu = statistics.median(c for _, c in times[(name, email)])
            print(
                f"| {name} | {label} | {statistics.median(wall):.1f} "
                f"({deciles[0]:.1f}-{deciles[-1]:.1f}) | {cpu:.1f} |"
            )


def main() -> None:
    """Set up a throwaway database, measure, print a Markdown table."""
    with tempfile.TemporaryDirectory(prefix="idp-enum-") as tmp:
        folder = Path(tmp)
        url, schema = DATABASE_URL or f"sqlite:///{folder / 'idp.db'}", None
        if url.startswith("postgresql"):
            schema = f"bench_enum_{os.getpid()}"
            with create_engine(DATABASE_URL).begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
        try:
            times = _measure(_app(folder, url))
        finally:
            if schema:
                with create_engine(DATABASE_URL).begin() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    _report(times, "PostgreSQL" if schema else "SQLite")


if __name__ == "__main__":
    sys.exit(main())
