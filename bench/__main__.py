"""`python -m bench`: gunicorn on PostgreSQL, then req/s per endpoint and sign-ins per second.

Env: BENCH_SECONDS (5), BENCH_CONCURRENCY (8), BENCH_WORKERS (2 gunicorn workers),
BENCH_DATABASE (postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench; dropped and made anew).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

import psycopg
import requests

from bench.flows import CALLBACK, sign_in
from bench.load import Result, run

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
WORKERS = os.environ.get("BENCH_WORKERS", "2")
DATABASE = os.environ.get(
    "BENCH_DATABASE", "postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench"
)
PASSWORD = "bench-orchard-velvet-93"
USERS = 400

SEED = f"""
import json, pyotp
from idp import create_app
from idp.cli import create_client
from idp.authn import totp
from idp.clock import now
from idp.extensions import db
from idp.models.user import User
from idp.models.totp_credential import TotpCredential
app = create_app()
with app.app_context():
    grants = ["authorization_code", "refresh_token", "client_credentials"]
    client, secret = create_client(name="Bench", redirect_uris=["{CALLBACK}"],
        first_party=True, client_id="bench", grant_types=grants)
    hashed = app.extensions["idp.passwords"].hash("{PASSWORD}")  # one hash, reused: seeding speed
    users = []
    for i in range({USERS}):
        user = User(email=f"user{{i}}@bench.example", password_hash=hashed, activated_at=now(),
                    email_verified=True, roles=[])
        db.session.add(user)
        db.session.flush()
        secret_i = totp.new_secret()
        db.session.add(TotpCredential(user_id=user.id, name="bench",
            secret_encrypted=totp.seal(secret_i, app_secret=app.config["SECRET_KEY"]), last_step=0))
        users.append([user.email, secret_i])
    db.session.commit()
    print(json.dumps({{"secret": secret, "users": users}}))
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _admin_url() -> str:
    return DATABASE.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres"


def _recreate_database(drop_only: bool = False) -> None:
    name = DATABASE.rsplit("/", 1)[1]
    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {name}")


def main() -> int:
    port = _port()
    base = f"http://localhost:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    env = {
        **os.environ,
        "IDP_DATABASE_URL": DATABASE,
        "IDP_INSTANCE_DIR": str(workdir),
        "IDP_KEYS_DIR": str(workdir / "keys"),
        "IDP_ISSUER": base,
        "IDP_RATELIMIT_ENABLED": "false",
    }
    idp = str(ROOT / ".venv" / "bin" / "idp") if (ROOT / ".venv").exists() else "idp"
    _recreate_database()
    server = None
    try:
        for args in (["db", "upgrade"], ["keys", "generate"]):
            subprocess.run([idp, *args], env=env, cwd=ROOT, check=True, capture_output=True)
        seeded = json.loads(
            subprocess.run(
                [sys.executable, "-c", SEED],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                WORKERS,
                "-b",
                f"localhost:{port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(base)
        results = _scenarios(base, seeded)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        _recreate_database(drop_only=True)
    _report(results)
    return 0


def _wait(base: str) -> None:
    for _ in range(100):
        try:
            if requests.get(f"{base}/.well-known/openid-configuration", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def _scenarios(base: str, seeded: dict) -> list[Result]:
    secret = seeded["secret"]
    users = iter(seeded["users"])
    lock = threading.Lock()
    tokens: dict[int, dict] = {}

    def next_user() -> list[str]:
        with lock:
            return next(users)

    def signed_in(session: requests.Session, index: int) -> None:
        email, totp_secret = next_user()
        tokens[index] = sign_in(
            base,
            requests.Session(),
            email=email,
            password=PASSWORD,
            totp_secret=totp_secret,
            client_id="bench",
            client_secret=secret,
        )

    def get(path: str):
        return lambda s, _: s.get(base + path).status_code == 200

    def client_credentials(s: requests.Session, _: int) -> bool:
        return (
            s.post(
                f"{base}/token", auth=("bench", secret), data={"grant_type": "client_credentials"}
            ).status_code
            == 200
        )

    def refresh(s: requests.Session, index: int) -> bool:
        response = s.post(
            f"{base}/token",
            auth=("bench", secret),
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens[index]["refresh_token"],
            },
        )
        if response.status_code != 200:
            return False
        tokens[index] = response.json()
        return True

    def userinfo(s: requests.Session, index: int) -> bool:
        headers = {"Authorization": f"Bearer {tokens[index]['access_token']}"}
        return s.get(f"{base}/userinfo", headers=headers).status_code == 200

    def full_sign_in(s: requests.Session, _: int) -> bool:
        email, totp_secret = next_user()
        sign_in(
            base,
            requests.Session(),
            email=email,
            password=PASSWORD,
            totp_secret=totp_secret,
            client_id="bench",
            client_secret=secret,
        )
        return True

    plan = [
        ("discovery", get("/.well-known/openid-configuration"), None),
        ("jwks", get("/jwks.json"), None),
        ("token: client_credentials", client_credentials, None),
        ("token: refresh_token", refresh, signed_in),
        ("userinfo", userinfo, signed_in),
        ("sign-in (password + TOTP + code)", full_sign_in, None),
    ]
    return [
        run(name, step, concurrency=CONCURRENCY, seconds=SECONDS, prepare=prep)
        for name, step, prep in plan
    ]


def _report(results: list[Result]) -> None:
    header = f"{'scenario':<36} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.name:<36} {r.rate:>9.1f} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} {r.errors:>7}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps(
            {
                "concurrency": CONCURRENCY,
                "seconds": SECONDS,
                "gunicorn_workers": WORKERS,
                "results": [asdict(r) | {"rate": r.rate} for r in results],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
