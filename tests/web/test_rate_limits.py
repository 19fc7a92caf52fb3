"""Rate limits, counted in Redis as in production (shared by every worker)."""

from __future__ import annotations

import pytest
import redis

from tests.support import RelyingParty, csrf_of, make_client

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def overrides():
    return {
        "ratelimit_enabled": True,
        "ratelimit_storage_url": REDIS_URL,
        "authorize_rate_limit": "3/minute",
        "token_rate_limit": "3/minute",
    }


@pytest.fixture(autouse=True)
def _fresh_counters():
    # Database 15 is this test's own: counters start at zero and are gone afterwards.
    store = redis.Redis.from_url(REDIS_URL)
    store.flushdb()
    yield
    store.flushdb()


def test_sign_in_posts_are_limited_per_client_address(app, client):
    page = client.get("/signin")
    token = csrf_of(page)
    # Another email each time: the per-account throttle is not what is under test here.
    statuses = [
        client.post(
            "/signin", data={"csrf_token": token, "email": f"a{n}@b.example", "password": "x"}
        ).status_code
        for n in range(21)
    ]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    keys = redis.Redis.from_url(REDIS_URL).keys("*")
    assert keys, "the counters live in Redis"


def test_authorize_is_limited_per_client_address(app, client):
    make_client(app)
    url = RelyingParty(client).authorize_url()
    assert [client.get(url).status_code for _ in range(4)] == [302, 302, 302, 429]
    other = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get(url, environ_overrides=other).status_code == 302


def test_token_is_limited_per_registered_client_and_address(app, client):
    _, secret = make_client(app)
    rp = RelyingParty(client, secret=secret)
    grant = {"grant_type": "client_credentials"}
    assert [rp.token_request(grant).status_code for _ in range(4)] == [200, 200, 200, 429]
    # Another relying party behind the same address has its own bucket (9c2aa81) ...
    _, other_secret = make_client(app, "rp2")
    assert RelyingParty(client, "rp2", other_secret).token_request(grant).status_code == 200
    # ... and naming a client from elsewhere does not drain that client's bucket.
    elsewhere = {"REMOTE_ADDR": "203.0.113.9"}
    response = client.post(
        "/token", data=grant, headers=rp.basic_auth(), environ_overrides=elsewhere
    )
    assert response.status_code == 200
