"""What the benchmark's users and relying party do, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp

from bench.client import Http, Reply

CALLBACK = "http://127.0.0.1:9/callback"  # never contacted: the code is read off the redirect
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class Failed(Exception):
    """The provider answered something a successful flow never sees."""


def authorize_url(client_id: str) -> tuple[str, str]:
    """A fresh PKCE verifier and the /authorize URL the bench's client sends a browser to."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email offline_access",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    return verifier, "/authorize?" + urlencode(params)


def expect(reply: Reply, status: int, what: str) -> Reply:
    """The reply, or Failed naming the step and what came back."""
    if reply.status != status:
        raise Failed(f"{what}: HTTP {reply.status} {reply.body[:120]!r}")
    return reply


def token(rp: Http, basic: dict[str, str], form: dict[str, str]) -> dict[str, Any]:
    """POST /token with client_secret_basic; the token response (RFC 6749 5.1)."""
    reply = rp.request("POST", "/token", form=form, headers=basic)
    return expect(reply, 200, f"token ({form['grant_type']})").json()


def sign_in(
    browser: Http, rp: Http, *, client_id: str, basic: dict[str, str], user: dict[str, str]
) -> dict[str, Any]:
    """Authorize, password, TOTP, back at the client with a code, code exchange: the tokens."""
    verifier, location = authorize_url(client_id)
    for _ in range(10):
        if location.startswith(CALLBACK):
            code = parse_qs(urlsplit(location).query)["code"][0]
            form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
            return token(rp, basic, {**form, "code_verifier": verifier})
        page = browser.request("GET", location)
        if page.status in (302, 303):
            location = page.location
            continue
        path = urlsplit(location).path
        if path == "/signin":
            answer = {"email": user["email"], "password": user["password"]}
        elif path == "/signin/verify":
            answer = {"code": pyotp.TOTP(user["totp"]).now()}
        else:
            raise Failed(f"unexpected page {path}: HTTP {page.status}")
        match = CSRF.search(page.body.decode())
        if match is None:
            raise Failed(f"no CSRF token on {path}")
        posted = browser.request("POST", location, form={"csrf_token": match[1], **answer})
        location = expect(posted, 302, f"POST {path}").location
    raise Failed(f"sign-in did not reach the client; stopped at {location}")
