"""Behind a real proxy: nginx ends TLS in front of two gunicorn instances, round robin.

The site is docs/nginx-idp.conf itself, with the test's ports and throw-away certificate. Both
instances share one PostgreSQL schema (the test's own) and one Redis database, so a sign-in,
its counters and its lockouts carry across them; the audit log names the client, not nginx.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
import redis
import requests
import sqlalchemy as sa
from flask_migrate import upgrade
from requests.adapters import HTTPAdapter

from idp import create_app
from idp.extensions import db
from tests.certificates import self_signed_certificate
from tests.conftest import TEST_DATABASE_URL, base_overrides
from tests.private_services import free_port, wait_for_port
from tests.support import PASSWORD, REDIRECT_URI, RelyingParty, make_client, make_user, query

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "nginx-idp.conf"
# The shared server (`make test-postgres` uses the same); a schema of our own on it.
POSTGRES_URL = (
    TEST_DATABASE_URL
    if TEST_DATABASE_URL.startswith("postgresql")
    else "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = "redis://127.0.0.1:6379/13"  # a database number no other test uses
CLIENT_ADDRESS = "127.0.0.5"  # the browser's address; nginx itself talks from 127.0.0.1
AUTHORIZE_LIMIT = 10
HSTS = "max-age=63072000; includeSubDomains"


def nginx_binary() -> str:
    """Debian's nginx (`make proxy` installs it), or skip."""
    found = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if not found:
        pytest.skip("nginx is not installed: `make proxy` installs Debian's package")
    return found


def nginx_config(folder: Path, *, https: int, http: int, upstreams: list[int]) -> Path:
    """docs/nginx-idp.conf with our ports, certificate and paths, in a main config of ours."""
    cert, key = self_signed_certificate(folder, "localhost")
    site = SITE.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https} ssl;",
        "10.0.0.11:8000": f"127.0.0.1:{upstreams[0]}",
        "10.0.0.12:8000": f"127.0.0.1:{upstreams[1]}",
        "/etc/ssl/idp/fullchain.pem": str(cert),
        "/etc/ssl/idp/privkey.pem": str(key),
    }
    for old, new in replacements.items():
        assert old in site, f"docs/nginx-idp.conf no longer has {old!r}"
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site)
    temp = folder / "temp"
    temp.mkdir(mode=0o777)
    temp.chmod(0o777)  # workers may run as nobody
    main = folder / "nginx.conf"
    main.write_text(
        f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {folder}/site.conf;
}}
"""
    )
    return main


class SourceAddress(HTTPAdapter):
    """Connections from a chosen local address (anything in 127.0.0.0/8 on Linux)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


@dataclass
class Deployment:
    """nginx on `url` in front of two instances; what each response's X-Upstream said."""

    url: str
    cert: Path
    engine: sa.Engine
    client_secret: str
    upstreams: list[str] = field(default_factory=list)

    def browser(self, address: str) -> requests.Session:
        """A browser connecting from `address`, trusting the throw-away certificate."""
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
        session.verify = str(self.cert)
        session.mount("https://", SourceAddress(address))
        session.hooks["response"].append(self._seen)
        return session

    def _seen(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.upstreams.append(response.headers.get("X-Upstream", ""))
        assert response.headers.get("Strict-Transport-Security") == HSTS, response.url

    def audit_addresses(self, *events: str, since: int = 0) -> set[str | None]:
        """The addresses the audit log recorded (for these events, or any) after row `since`."""
        query = "SELECT ip FROM audit_events WHERE id > :since"
        if events:
            query += " AND event = ANY(:events)"
        params = {"events": list(events), "since": since}
        with self.engine.connect() as conn:
            return {row.ip for row in conn.execute(sa.text(query), params)}

    def last_audit_id(self) -> int:
        """The newest audit row so far: a test reads only what it caused (any test order)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM audit_events")).scalar()


def _start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """nginx, two gunicorn instances, a migrated schema with Ada and a relying party."""
    nginx = nginx_binary()
    folder = tmp_path_factory.mktemp("proxy")
    https, http, app_ports = free_port(), free_port(), [free_port(), free_port()]
    issuer = f"https://localhost:{https}"
    schema = f"idp_proxy_{os.getpid()}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
    url = POSTGRES_URL + ("&" if "?" in POSTGRES_URL else "?") + f"options=-csearch_path%3D{schema}"
    keys = folder / "keys"
    settings = {**base_overrides(folder, url, keys), "issuer": issuer}
    from idp.oidc.keys import KeyStore

    KeyStore(keys).ensure()
    app = create_app(settings)
    with app.app_context():
        upgrade()
    make_user(app)
    _, client_secret = make_client(app)
    with app.app_context():
        db.engine.dispose()

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "IDP_ISSUER": issuer,
        "IDP_DATABASE_URL": url,
        "IDP_KEYS_DIR": str(keys),
        "IDP_SECRET_KEY": settings["secret_key"],
        "IDP_TRUSTED_PROXIES": "1",
        "IDP_RATELIMIT_STORAGE_URL": REDIS_URL,
        "IDP_AUTHORIZE_RATE_LIMIT": f"{AUTHORIZE_LIMIT}/minute",
        "IDP_LOGIN_MAX_FAILURES": "2",
        "IDP_ARGON2_TIME_COST": "1",
        "IDP_ARGON2_MEMORY_KIB": "1024",
        "IDP_SUPPORT_EMAIL": "help@insurer.example",
    }
    processes = []
    try:
        for n, port in enumerate(app_ports):
            instance = {**env, "IDP_INSTANCE_DIR": str(folder / f"instance{n}")}
            gunicorn = [sys.executable, "-m", "gunicorn", "--workers", "2", "--no-control-socket"]
            command = [*gunicorn, "--bind", f"127.0.0.1:{port}", "wsgi:app"]
            processes.append(_start(command, folder / f"gunicorn{n}.log", instance))
        config = nginx_config(folder, https=https, http=http, upstreams=app_ports)
        nginx_command = [nginx, "-p", str(folder), "-c", str(config)]
        processes.append(_start(nginx_command, folder / "nginx.log", env))
        for port in [*app_ports, https]:
            wait_for_port(port, up=True, timeout=60)  # four workers import the app at once
        for port in app_ports:  # workers booted (the port opens before they do)
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=60).raise_for_status()
        yield Deployment(issuer, folder / "cert.pem", sa.create_engine(url), client_secret)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in sorted(folder.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def csrf(page: requests.Response) -> str:
    """The CSRF token of a rendered form."""
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.text)
    match = match or re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, f"no CSRF token on {page.url}"
    return match.group(1)


def local(response: requests.Response) -> str:
    """Where a provider redirect points, as a path (the RP's own address is kept whole)."""
    location = response.headers["Location"]
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    return (
        location
        if location.startswith(REDIRECT_URI)
        else urlsplit(location)._replace(scheme="", netloc="").geturl()
    )


class Browser:
    """A person at a browser behind nginx, going through the hosted sign-in."""

    def __init__(self, deployment: Deployment, address: str) -> None:
        self.base = deployment.url
        self.http = deployment.browser(address)
        self.rp = RelyingParty(browser=None, secret=deployment.client_secret)  # type: ignore[arg-type]
        self.location = ""

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, allow_redirects=False, timeout=15)

    def submit(self, page: requests.Response, path: str, data: dict[str, str]) -> requests.Response:
        """Post a form of `page` as a browser does: Referer only as the page's policy allows."""
        policy = page.headers.get("Referrer-Policy", "strict-origin-when-cross-origin")
        headers = {} if policy == "no-referrer" else {"Referer": page.url}
        return self.http.post(
            self.base + path, data=data, headers=headers, allow_redirects=False, timeout=15
        )

    def step(self, response: requests.Response) -> requests.Response:
        self.location = local(response)
        return response

    def start(self) -> None:
        self.step(self.get(self.rp.authorize_url(scope="openid email offline_access")))
        assert self.location.startswith("/signin?rid="), self.location
        page = self.get(self.location)
        data = {"csrf_token": csrf(page), "email": "ada@example.com", "password": PASSWORD}
        self.step(self.submit(page, self.location, data))
        self.follow_resumes()

    def follow_resumes(self) -> None:
        while self.location.startswith("/authorize/resume/"):
            self.step(self.get(self.location))

    def enroll_totp(self) -> str:
        """First sign-in: set up an authenticator app, trust this browser, keep the codes."""
        assert self.location.startswith("/signin/enroll?rid="), self.location
        rid = self.location.split("rid=")[1]
        setup = self.get(f"/signin/enroll/totp?rid={rid}")
        secret = re.search(r'id="totp-key">([A-Z2-7 ]+)<', setup.text).group(1).replace(" ", "")
        data = {"csrf_token": csrf(setup), "name": "Phone", "code": pyotp.TOTP(secret).now()}
        self.step(self.submit(setup, f"/signin/enroll/totp?rid={rid}", {**data, "remember": "y"}))
        codes = self.get(self.location)
        self.step(self.submit(codes, self.location, {"csrf_token": csrf(codes)}))
        return secret

    def until_rp(self) -> dict[str, str]:
        for _ in range(6):
            if self.location.startswith(REDIRECT_URI):
                return query(self.location)
            self.step(self.get(self.location))
        raise AssertionError(f"never reached the RP; stopped at {self.location}")

    def token(self, data: dict[str, str]) -> dict[str, Any]:
        answer = self.http.post(
            self.base + "/token", data=data, auth=("rp", self.rp.secret or ""), timeout=15
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


def test_sign_in_trusted_device_tokens_and_refresh_through_nginx(deployment):
    since = deployment.last_audit_id()
    ada = Browser(deployment, CLIENT_ADDRESS)
    ada.http.headers["X-Forwarded-For"] = "203.0.113.66"  # a lie nginx must overwrite
    ada.start()
    ada.enroll_totp()
    code = ada.until_rp()["code"]
    tokens = ada.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": ada.rp.verifier,
        }
    )
    assert {"access_token", "id_token", "refresh_token"} <= set(tokens)
    refreshed = ada.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    userinfo = ada.http.get(
        f"{deployment.url}/userinfo",
        headers={"Authorization": f"Bearer {refreshed['access_token']}"},
        timeout=15,
    )
    assert userinfo.json()["email"] == "ada@example.com"

    # https issuer: every cookie is __Host- prefixed; the session ends, the browser stays trusted.
    names = {cookie.name for cookie in ada.http.cookies}
    assert {"__Host-idp_session", "__Host-idp_device"} <= names, names
    assert all(cookie.secure for cookie in ada.http.cookies)
    ada.http.cookies.clear(domain="localhost.local", path="/", name="__Host-idp_session")
    ada.rp = RelyingParty(browser=None, secret=deployment.client_secret)  # type: ignore[arg-type]
    ada.start()
    assert ada.location.startswith(REDIRECT_URI), "the trusted browser was challenged again"

    served_by = {upstream for upstream in deployment.upstreams if upstream}
    assert len(served_by) == 2, served_by  # both instances took part in the flow
    # Every event: the browser's address.
    assert deployment.audit_addresses(since=since) == {CLIENT_ADDRESS}


def test_rate_limits_and_lockouts_count_across_both_instances(deployment):
    # A fresh address per run: the Redis database is shared with other runs.
    address = f"127.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
    probe = deployment.browser(address)
    before = len(deployment.upstreams)
    answers = [
        probe.get(f"{deployment.url}/authorize", timeout=15).status_code
        for _ in range(AUTHORIZE_LIMIT + 1)
    ]
    assert 429 not in answers[:-1] and answers[-1] == 429, answers
    assert len(set(deployment.upstreams[before:])) == 2  # each instance saw half of them

    since = deployment.last_audit_id()
    guesser = Browser(deployment, address)
    page = guesser.get("/signin")
    wrong = {"csrf_token": csrf(page), "email": "ada@example.com", "password": "wrong-guess-0"}
    before = len(deployment.upstreams)
    assert [guesser.submit(page, "/signin", wrong).status_code for _ in range(2)] == [401, 401]
    held = guesser.submit(page, "/signin", {**wrong, "password": PASSWORD})
    assert held.status_code == 429, "the right password was checked after the limit"
    assert len(set(deployment.upstreams[before:])) == 2
    failures = deployment.audit_addresses("password.failed", "password.throttled", since=since)
    assert failures == {address}


@pytest.fixture(autouse=True, scope="module")
def _redis_is_up() -> None:
    """The shared Redis must answer; the counters under test live there."""
    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
