"""`python -m bench.profile_signin`: a sign-in's app CPU per request, in process, on PostgreSQL.

The bench's sign-in (bench/flows.py: GET /authorize, the sign-in page, POST password, the
TOTP page, POST code, the code exchange at /token with PKCE; any /authorize/resume hop on the
way is followed and measured too) driven through the WSGI app with Flask's test client: no
HTTP, no gunicorn. A WSGI wrapper measures this process's CPU time (`time.process_time`)
around each request, the body included, so the test client's own work is not counted.
PostgreSQL's CPU is not included.

Set up like `make bench`: a fresh database (`PROFILE_DATABASE_URL`, default
.../idp_bench_profile; its name must contain "bench", since it is dropped), `idp db upgrade`,
`idp keys generate`, `bench.seed` (a confidential first-party client, users enrolled in TOTP,
one production argon2id hash). A TOTP step is accepted once per user, so each sign-in uses a
fresh user.

Environment: PROFILE_BATCHES (5) batches of PROFILE_SIGNINS (20) sign-ins; the table shows,
per request, the best batch's mean (least disturbed by other jobs on the machine).
PROFILE_CPROFILE=1 adds a cProfile of every measured request (sorted by PROFILE_SORT,
default tottime; PROFILE_LINES rows; PROFILE_DUMP: a file for pstats;
PROFILE_ONLY: only the requests with this label, e.g. "GET /signin"). PROFILE_SPLIT=1 adds
the CPU inside SQLAlchemy, template rendering and argon2 per request; PROFILE_SQL=1 lists one
sign-in's statements (PROFILE_SQL_STACK=text: the Python stack of each statement containing it).
"""

from __future__ import annotations

import base64
import cProfile
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pyotp

from bench.flows import CALLBACK, authorize_url

ROOT = Path(__file__).resolve().parent.parent
IDP = str(Path(sys.executable).with_name("idp"))
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
DATABASE_URL = os.environ.get(
    "PROFILE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench_profile"
)
BATCHES = int(os.environ.get("PROFILE_BATCHES", "5"))
SIGNINS = int(os.environ.get("PROFILE_SIGNINS", "20"))
WARMUP = 3

Environ = dict[str, Any]
WsgiApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]


class Meter:
    """WSGI middleware: the CPU each request costs this process, labelled by the caller."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.label = ""
        self.spent: dict[str, list[float]] = defaultdict(list)
        self.profile: cProfile.Profile | None = None
        self.only = os.environ.get("PROFILE_ONLY", "")  # profile the requests with this label

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
        profile = self.profile if self.only in ("", self.label) else None
        if profile is not None:
            profile.enable()
        started = time.process_time()
        body = self.app(environ, start_response)
        try:
            chunks = list(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        self.spent[self.label].append(time.process_time() - started)
        if profile is not None:
            profile.disable()
        return chunks


def sign_in(app: Any, meter: Meter, *, client_id: str, secret: str, user: list[str]) -> None:
    """One whole sign-in in a new browser, each request measured under the label of its step."""
    client = app.test_client()
    email, key = user
    verifier, location = authorize_url(client_id)
    resumes = 0
    for _ in range(10):
        if location.startswith(CALLBACK):
            code = parse_qs(urlsplit(location).query)["code"][0]
            basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
            meter.label = "POST /token (code)"
            reply = client.post(
                "/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": CALLBACK,
                    "code_verifier": verifier,
                },
                headers={"Authorization": f"Basic {basic}"},
            )
            if reply.status_code != 200 or "id_token" not in reply.get_json():
                raise SystemExit(f"code exchange: {reply.status_code} {reply.data[:200]!r}")
            return
        path = urlsplit(location).path
        if path.startswith("/authorize/resume"):
            resumes += 1
            meter.label = f"GET /authorize/resume ({resumes})"
        else:
            meter.label = f"GET {path}"
        page = client.get(location)
        if page.status_code in (302, 303):
            location = page.headers["Location"].removeprefix("http://localhost")
            continue
        if path == "/signin":
            answer = {"email": email, "password": os.environ["PROFILE_PASSWORD"]}
        elif path == "/signin/verify":
            answer = {"code": pyotp.TOTP(key).now()}
        else:
            raise SystemExit(f"unexpected page {path}: HTTP {page.status_code}")
        match = CSRF.search(page.get_data(as_text=True))
        if match is None:
            raise SystemExit(f"no CSRF token on {path}")
        meter.label = f"POST {path}"
        posted = client.post(location, data={"csrf_token": match[1], **answer})
        if posted.status_code != 302:
            raise SystemExit(f"POST {path}: {posted.status_code} {posted.data[:300]!r}")
        location = posted.headers["Location"].removeprefix("http://localhost")
    raise SystemExit(f"sign-in did not reach the client; stopped at {location}")


def _run(env: dict[str, str], *command: str) -> str:
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


@contextmanager
def seeded_database(users: int) -> Iterator[dict[str, Any]]:
    """A fresh bench database with keys and `bench.seed`'s client and users, this process's
    IDP_* environment pointing at it; dropped on the way out."""
    server_url, _, name = DATABASE_URL.replace("+psycopg", "").rpartition("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the database's name must say bench")
    with (
        tempfile.TemporaryDirectory(prefix="idp-profile-") as tmp,
        psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin,
    ):
        env = {
            **os.environ,
            "IDP_DATABASE_URL": DATABASE_URL,
            "IDP_ISSUER": "http://localhost",
            "IDP_RATELIMIT_ENABLED": "false",
            "IDP_PASSKEY_OFFER": "false",
            "IDP_INSTANCE_DIR": tmp,
            "IDP_KEYS_DIR": f"{tmp}/keys",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            _run(env, IDP, "db", "upgrade")
            _run(env, IDP, "keys", "generate")
            seeded = json.loads(_run(env, sys.executable, "-m", "bench.seed", str(users), CALLBACK))
            os.environ.update(env)
            os.environ["PROFILE_PASSWORD"] = seeded["password"]
            yield seeded
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Set up the database, sign in batch after batch, print the table (and the profile)."""
    users_needed = WARMUP + BATCHES * SIGNINS + 1  # and one for PROFILE_SQL
    with seeded_database(users_needed) as seeded:
        _measure(seeded)


def _measure(seeded: dict[str, Any]) -> None:
    from idp import create_app
    from idp.extensions import db

    app = create_app()
    meter = Meter(app.wsgi_app)
    app.wsgi_app = meter  # type: ignore[method-assign]
    split = _split(meter) if os.environ.get("PROFILE_SPLIT") == "1" else None
    users = iter(seeded["users"])
    auth = {"client_id": seeded["client_id"], "secret": seeded["secret"]}
    for _ in range(WARMUP):
        sign_in(app, meter, user=next(users), **auth)
    if os.environ.get("PROFILE_SQL") == "1":
        _show_statements(app, meter, user=next(users), **auth)
    profile = (
        cProfile.Profile(time.process_time) if os.environ.get("PROFILE_CPROFILE") == "1" else None
    )
    best: dict[str, float] = {}
    totals: list[float] = []
    for _ in range(BATCHES):
        meter.spent.clear()
        if split is not None:
            split.clear()
        meter.profile = profile
        for _ in range(SIGNINS):
            sign_in(app, meter, user=next(users), **auth)
        meter.profile = None
        means = {label: sum(cpu) / len(cpu) for label, cpu in meter.spent.items()}
        totals.append(sum(means.values()))
        for label, mean in means.items():
            best[label] = min(best.get(label, mean), mean)
    with app.app_context():
        db.engine.dispose()
    print(f"app CPU per request, ms: best batch mean of {BATCHES} x {SIGNINS} sign-ins")
    for label, mean in best.items():
        print(f"  {mean * 1000:7.2f}  {label}")
    print(f"  {sum(best.values()) * 1000:7.2f}  sum of the bests")
    print("  whole sign-in per batch, ms: " + ", ".join(f"{t * 1000:.1f}" for t in totals))
    if split is not None:
        print(
            "where it went, ms per request (the last batch): total = sql + render + argon2 + rest"
        )
        for label, cpu in meter.spent.items():
            total = sum(cpu) / len(cpu) * 1000
            parts = {k: v / len(cpu) * 1000 for k, v in split[label].items()}
            rest = total - sum(parts.values())
            shown = "  ".join(f"{k} {v:5.2f}" for k, v in parts.items())
            print(f"  {total:6.2f} = {shown}  rest {rest:5.2f}  {label}")
    if profile is not None:
        stats = pstats.Stats(profile)
        stats.sort_stats(os.environ.get("PROFILE_SORT", "tottime"))
        stats.print_stats(int(os.environ.get("PROFILE_LINES", "60")))
        if os.environ.get("PROFILE_DUMP"):
            stats.dump_stats(os.environ["PROFILE_DUMP"])


def _split(meter: Meter) -> dict[str, dict[str, float]]:
    """PROFILE_SPLIT=1: CPU inside SQLAlchemy, template rendering and argon2, per label."""
    import argon2
    import flask.templating
    from sqlalchemy.orm import Session

    split: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    depth = [0]

    def timed(owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if depth[0]:
                return original(*args, **kwargs)
            depth[0] += 1
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                split[meter.label][part] += time.process_time() - started
                depth[0] -= 1

        setattr(owner, name, wrapper)

    timed(Session, "execute", "sql")
    timed(Session, "scalars", "sql")
    timed(Session, "scalar", "sql")
    timed(Session, "get", "sql")
    timed(Session, "flush", "sql")
    timed(Session, "commit", "sql")
    timed(flask.templating, "_render", "render")
    timed(argon2.PasswordHasher, "verify", "argon2")
    return split


def _show_statements(app: Any, meter: Meter, **sign_in_args: Any) -> None:
    """PROFILE_SQL=1: the statements of one sign-in, per request."""
    from sqlalchemy import event

    from idp.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, str]] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((meter.label, " ".join(statement.split())[:150]))
        if os.environ.get("PROFILE_SQL_STACK") and os.environ["PROFILE_SQL_STACK"] in statement:
            import traceback

            traceback.print_stack(limit=40)

    event.listen(engine, "before_cursor_execute", executed)
    sign_in(app, meter, **sign_in_args)
    event.remove(engine, "before_cursor_execute", executed)
    print(f"{len(seen)} statements in one sign-in")
    for label, statement in seen:
        print(f"  {label:28s} {statement}")


if __name__ == "__main__":
    main()
