"""A small relying party (Flask, its own session) that signs users in with the provider and
honours OpenID Connect Back-Channel Logout 1.0: it verifies logout tokens with the JWKS."""

from __future__ import annotations

import random
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask, abort, redirect, request, session
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass
class RPState:
    """What the RP knows: live sessions by `sid`, tokens received, how many POSTs to refuse."""

    issuer: str
    client_id: str
    secret: str = ""
    url: str = ""
    signed_in: dict[str, str] = field(default_factory=dict)  # sid -> sub
    received: list[dict[str, Any]] = field(default_factory=list)
    refuse: int = 0
    # The RP's clock, in epoch seconds: the provider's test clock moves, so the RP follows it.
    now: Callable[[], int] | None = None
    http: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.http.trust_env = False


def verify_logout_token(state: RPState, token: str) -> dict[str, Any]:
    """Back-Channel Logout 1.0 section 2.6, steps 1 to 7 (jti replay left to the caller)."""
    jwks = KeySet.import_key_set(state.http.get(f"{state.issuer}/jwks.json").json())
    decoded = jwt.decode(token, jwks, algorithms=["RS256", "ES256"])
    assert decoded.header.get("typ") == "logout+jwt", decoded.header
    claims = dict(decoded.claims)
    jwt.JWTClaimsRegistry(
        now=state.now() if state.now else None,
        iss={"essential": True, "value": state.issuer},
        aud={"essential": True, "value": state.client_id},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
    ).validate(claims)
    assert claims["events"] == {EVENT: {}}, claims
    assert "nonce" not in claims
    assert claims.get("sid") or claims.get("sub")
    return claims


def make_rp(state: RPState) -> Flask:
    """The RP's Flask app."""
    app = Flask("rp")
    app.secret_key = secrets.token_hex(16)
    # Cookies ignore ports: two RPs on 127.0.0.1 need two cookie names.
    app.config["SESSION_COOKIE_NAME"] = f"rp_{state.client_id}"

    @app.get("/login")
    def login() -> Any:
        session["verifier"] = secrets.token_urlsafe(48)
        session["state"] = secrets.token_urlsafe(8)
        params = {
            "response_type": "code",
            "client_id": state.client_id,
            "redirect_uri": f"{state.url}/callback",
            "scope": "openid email",
            "state": session["state"],
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": create_s256_code_challenge(session["verifier"]),
            "code_challenge_method": "S256",
        }
        return redirect(f"{state.issuer}/authorize?{urlencode(params)}")

    @app.get("/callback")
    def callback() -> Any:
        if request.args.get("state") != session.get("state"):
            abort(400)
        tokens = state.http.post(
            f"{state.issuer}/token",
            auth=(state.client_id, state.secret),
            data={
                "grant_type": "authorization_code",
                "code": request.args["code"],
                "redirect_uri": f"{state.url}/callback",
                "code_verifier": session["verifier"],
            },
        ).json()
        jwks = KeySet.import_key_set(state.http.get(f"{state.issuer}/jwks.json").json())
        claims = jwt.decode(tokens["id_token"], jwks, algorithms=["RS256", "ES256"]).claims
        session["sid"], session["id_token"] = claims["sid"], tokens["id_token"]
        state.signed_in[claims["sid"]] = claims["sub"]
        return redirect("/me")

    @app.get("/me")
    def me() -> Any:
        sid = session.get("sid")
        if not sid or sid not in state.signed_in:
            session.clear()
            return "signed out", 401
        return f"signed in as {state.signed_in[sid]}"

    @app.post("/backchannel-logout")
    def backchannel_logout() -> Any:
        if state.refuse > 0:
            state.refuse -= 1
            return "try later", 500
        try:
            claims = verify_logout_token(state, request.form["logout_token"])
        except Exception:  # section 2.8: an invalid token is answered 400
            return "bad logout token", 400
        state.received.append(claims)
        state.signed_in.pop(claims.get("sid", ""), None)
        return "", 200, {"Cache-Control": "no-store"}

    return app


def free_low_port() -> int:
    """A free TCP port below 32768 (outside the usual ephemeral range)."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


@contextmanager
def running_rp(state: RPState) -> Iterator[RPState]:
    """Serve the RP on http://127.0.0.1:<port below 32768> while the block runs."""
    port = free_low_port()
    state.url = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, make_rp(state), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
