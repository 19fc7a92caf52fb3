"""One authorization code, two simultaneous redemptions over real HTTP: exactly one wins.

Needs PostgreSQL, where two requests really run in parallel transactions; .ci/run runs it.
"""

from __future__ import annotations

import threading
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


def test_a_code_redeemed_twice_at_once_succeeds_exactly_once(live_server):
    app, base = live_server.app, live_server.url
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    client_id, client_secret = make_client(app)
    browser = LiveBrowser(app)
    authorize = f"{base}/authorize?" + urlencode(
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
    http = requests.Session()
    http.trust_env = False

    for _ in range(ROUNDS):
        code = query(browser.through(authorize, until=REDIRECT_URI, secret=secret))["code"]
        start = threading.Barrier(2)

        def redeem(code: str = code, start: threading.Barrier = start) -> requests.Response:
            start.wait()
            return requests.post(
                f"{base}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": VERIFIER,
                },
                auth=(client_id, client_secret),
                timeout=10,
            )

        with ThreadPoolExecutor(max_workers=2) as pool:
            responses = list(pool.map(lambda _: redeem(), range(2)))

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
