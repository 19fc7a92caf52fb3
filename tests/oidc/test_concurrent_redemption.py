"""One authorization code (or refresh token), two simultaneous uses over real HTTP: one wins.

Needs PostgreSQL, where two requests really run in parallel transactions; .ci/run runs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.conftest import TEST_DATABASE_URL
from tests.support import REDIRECT_URI, LiveBrowser, enroll_totp, make_client, make_user, query

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL,
    reason="needs PostgreSQL (IDP_TEST_DATABASE_URL): SQLite runs one writer at a time, "
    "so there is no race to test",
)

ROUNDS = 5
VERIFIER = "v" * 64


def _authorize_url(base: str, client_id: str) -> str:
    return f"{base}/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid offline_access",
            "state": "s",
            "code_challenge": create_s256_code_challenge(VERIFIER),
            "code_challenge_method": "S256",
        }
    )


def _redeem(base: str, code: str, auth: tuple[str, str]) -> requests.Response:
    return requests.post(
        f"{base}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": VERIFIER,
        },
        auth=auth,
        timeout=10,
    )


def _twice_at_once(call: Callable[[], requests.Response]) -> list[requests.Response]:
    start = threading.Barrier(2)

    def at_once() -> requests.Response:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda _: at_once(), range(2)))


def test_a_code_redeemed_twice_at_once_succeeds_exactly_once(live_server):
    app, base = live_server.app, live_server.url
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    client_id, client_secret = make_client(app)
    browser = LiveBrowser(app)
    authorize = _authorize_url(base, client_id)
    http = requests.Session()
    http.trust_env = False
    auth = (client_id, client_secret)

    for _ in range(ROUNDS):
        code = query(browser.through(authorize, until=REDIRECT_URI, secret=secret))["code"]
        responses = _twice_at_once(lambda code=code: _redeem(base, code, auth))

        assert sorted(r.status_code for r in responses) == [200, 400]
        winner = next(r for r in responses if r.status_code == 200).json()
        loser = next(r for r in responses if r.status_code == 400).json()
        assert loser["error"] == "invalid_grant"
        # The second redemption is a replay, and a replay revokes what the code issued.
        for token in (winner["access_token"], winner["refresh_token"]):
            introspection = http.post(
                f"{base}/introspect", data={"token": token}, auth=(client_id, client_secret)
            )
            assert introspection.json() == {"active": False}


class SignedIn:
    """A browser signed in at a confidential client over HTTP: fresh refresh tokens on demand."""

    def __init__(self, live_server) -> None:
        self.base = live_server.url
        user = make_user(live_server.app)
        self.secret = enroll_totp(live_server.app, user.id)
        client_id, client_secret = make_client(live_server.app)
        self.auth = (client_id, client_secret)
        self.authorize = _authorize_url(self.base, client_id)
        self.browser = LiveBrowser(live_server.app)

    def refresh_token(self) -> str:
        """A new grant's refresh token (single sign-on after the first)."""
        params = query(self.browser.through(self.authorize, until=REDIRECT_URI, secret=self.secret))
        return str(_redeem(self.base, params["code"], self.auth).json()["refresh_token"])

    def refresh(self, token: str, scope: str | None = None) -> requests.Response:
        """RFC 6749 6, authenticated as the client (with `scope`, as many RP libraries send)."""
        data = {"grant_type": "refresh_token", "refresh_token": token}
        if scope:
            data["scope"] = scope
        return requests.post(f"{self.base}/token", data=data, auth=self.auth, timeout=10)

    def active(self, token: str) -> bool:
        """RFC 7662's answer."""
        data = {"token": token}
        reply = requests.post(f"{self.base}/introspect", data=data, auth=self.auth, timeout=10)
        return bool(reply.json()["active"])


# Without a scope the token is spent by the statement that finds it; with one it is read, the
# scope checked, then spent: both ways, the later use is judged the same.
SCOPES = pytest.mark.parametrize("scope", [None, "openid offline_access"])


@SCOPES
@pytest.mark.parametrize("overrides", [{"refresh_reuse_grace_seconds": 0}])
def test_a_refresh_token_used_twice_at_once_rotates_once_and_the_reuse_revokes_all(
    live_server, scope
):
    rp = SignedIn(live_server)

    for _ in range(ROUNDS):
        token = rp.refresh_token()
        responses = _twice_at_once(lambda token=token: rp.refresh(token, scope))

        assert sorted(r.status_code for r in responses) == [200, 400]
        winner = next(r for r in responses if r.status_code == 200).json()
        loser = next(r for r in responses if r.status_code == 400).json()
        assert loser["error"] == "invalid_grant"
        # Without a grace the second use is a replay: the family, the winner's pair too, ends.
        assert not rp.active(winner["access_token"])
        assert not rp.active(winner["refresh_token"])


@SCOPES
def test_a_refresh_token_used_twice_at_once_within_the_grace_leaves_one_live(live_server, scope):
    rp = SignedIn(live_server)

    for _ in range(ROUNDS):
        token = rp.refresh_token()
        responses = _twice_at_once(lambda token=token: rp.refresh(token, scope))

        issued = [r.json()["refresh_token"] for r in responses if r.status_code == 200]
        assert issued, [r.json() for r in responses]
        # The later use is a retry of the earlier: one live token, the grant kept.
        assert len([t for t in issued if rp.active(t)]) == 1
