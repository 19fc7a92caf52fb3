"""Rate limits, counted in Redis as in production (shared by every worker)."""

from __future__ import annotations

import pytest
import redis

from tests.support import csrf_of

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def overrides():
    return {"ratelimit_enabled": True, "ratelimit_storage_url": REDIS_URL}


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
    statuses = [
        client.post(
            "/signin", data={"csrf_token": token, "email": "a@b.example", "password": "x"}
        ).status_code
        for _ in range(21)
    ]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    keys = redis.Redis.from_url(REDIS_URL).keys("*")
    assert keys, "the counters live in Redis"
