"""The scenarios: each a factory of one thread's step, built before the clock starts."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

from bench.client import Http
from bench.flows import expect, sign_in, token
from bench.load import Exhausted

HOST = "127.0.0.1"
Step = Callable[[], object]


def scenarios(port: int, seeded: dict[str, Any]) -> list[tuple[str, Callable[[], Step]]]:
    """(name, step factory) per scenario, in the order they run."""
    client_id = seeded["client_id"]
    basic = {
        "Authorization": "Basic "
        + base64.b64encode(f"{client_id}:{seeded['secret']}".encode()).decode()
    }
    users = iter(
        [{"email": e, "password": seeded["password"], "totp": k} for e, k in seeded["users"]]
    )
    lock = threading.Lock()

    def signed_in(rp: Http) -> dict[str, Any]:
        # A TOTP code is accepted once per 30 s step per user: every sign-in takes a fresh user.
        with lock:
            user = next(users, None)
        if user is None:
            raise Exhausted()
        return sign_in(Http(HOST, port), rp, client_id=client_id, basic=basic, user=user)

    def get(path: str) -> Callable[[], Step]:
        def factory() -> Step:
            http = Http(HOST, port)
            return lambda: expect(http.request("GET", path), 200, path)

        return factory

    def client_credentials() -> Step:
        http = Http(HOST, port)
        return lambda: token(http, basic, {"grant_type": "client_credentials"})

    def refresh() -> Step:
        http = Http(HOST, port)
        tokens = signed_in(http)

        def step() -> None:
            form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
            tokens.update(token(http, basic, form))  # always rotate the newest one

        return step

    def userinfo() -> Step:
        http = Http(HOST, port)
        bearer = {"Authorization": f"Bearer {signed_in(http)['access_token']}"}
        return lambda: expect(http.request("GET", "/userinfo", headers=bearer), 200, "userinfo")

    def full_sign_in() -> Step:
        http = Http(HOST, port)
        return lambda: signed_in(http)

    return [
        ("discovery", get("/.well-known/openid-configuration")),
        ("jwks", get("/jwks.json")),
        ("token: client_credentials", client_credentials),
        ("token: refresh_token", refresh),
        ("userinfo", userinfo),
        ("sign-in (6 requests)", full_sign_in),
    ]
