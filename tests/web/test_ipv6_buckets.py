"""One IPv6 host holds a whole /64: every per-client count (rate limits, the password throttle's
per-source counters, the bound on unfinished sign-ins) takes the /64 as one client."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select

from idp.extensions import db
from idp.models.session import SessionRecord
from tests.support import RelyingParty, csrf_of, make_client, make_user

HOST = "2001:db8:1:2::1"
SAME_64 = ("2001:db8:1:2::2", "2001:db8:1:2:ffff:abcd:1234:5678", "2001:db8:1:2:0:0:0:beef")
OTHER_64 = "2001:db8:1:3::1"


def from_address(app, address: str):
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def attempt(browser, email: str, password: str = "wrong-guess-000"):  # noqa: S107
    token = csrf_of(browser.get("/signin"))
    return browser.post("/signin", data={"csrf_token": token, "email": email, "password": password})


class TestRateLimits:
    @pytest.fixture
    def overrides(self):
        # In-process counts: this app's own, nothing shared with other test runs.
        return {
            "ratelimit_enabled": True,
            "ratelimit_storage_url": "memory://",
            "authorize_rate_limit": "3/minute",
        }

    def test_addresses_in_one_64_share_the_authorize_limit(self, app):
        make_client(app)
        url = RelyingParty(app.test_client()).authorize_url()
        statuses = [from_address(app, address).get(url).status_code for address in (HOST, *SAME_64)]
        assert statuses == [302, 302, 302, 429], "a new address in the same /64 is no new client"
        assert from_address(app, OTHER_64).get(url).status_code == 302, "another /64 is"
        assert from_address(app, "192.0.2.1").get(url).status_code == 302

    def test_ipv4_stays_per_address_and_mapped_ipv6_is_ipv4(self, app):
        make_client(app)
        url = RelyingParty(app.test_client()).authorize_url()
        for address in ("192.0.2.1", "::ffff:192.0.2.1", "192.0.2.1"):
            assert from_address(app, address).get(url).status_code == 302
        assert from_address(app, "::ffff:192.0.2.1").get(url).status_code == 429
        assert from_address(app, "192.0.2.2").get(url).status_code == 302

    def test_sign_in_posts_from_one_64_share_a_limit(self, app):
        # 20 POSTs a minute per client; each from a fresh address of the same /64.
        statuses = [
            attempt(from_address(app, f"2001:db8:1:2::{n:x}"), f"a{n}@b.example").status_code
            for n in range(1, 22)
        ]
        assert statuses[:20] == [401] * 20 and statuses[20] == 429
        assert attempt(from_address(app, OTHER_64), "z@b.example").status_code == 401


def test_wrong_passwords_from_one_64_count_as_one_source(app):
    make_user(app)
    # Five free wrong passwords per (account, source), each typed from another address.
    for n in range(1, 6):
        browser = from_address(app, f"2001:db8:1:2::{n:x}")
        assert attempt(browser, "ada@example.com").status_code == 401
    held = attempt(from_address(app, SAME_64[1]), "ada@example.com", "plum-orchard-velvet-93")
    assert held.status_code == 429, "a new address of the same /64 is the same source"
    owner = from_address(app, OTHER_64)
    assert attempt(owner, "ada@example.com", "plum-orchard-velvet-93").status_code == 302


def session_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SessionRecord))


def start_kept_sign_in(app, address: str) -> None:
    """An authorization request too long to carry in a URL: kept in a session row."""
    browser = from_address(app, address)
    rp = RelyingParty(browser, state=secrets.token_urlsafe(1500), nonce=secrets.token_urlsafe(1500))
    assert browser.get(rp.authorize_url()).status_code == 302


def test_unfinished_sign_ins_from_one_64_share_the_bound(app):
    make_client(app)
    for n in range(1, 24):  # the default bound is 20
        start_kept_sign_in(app, f"2001:db8:1:2::{n:x}")
    assert session_rows(app) == 20, "23 addresses of one /64 are one client"
    start_kept_sign_in(app, OTHER_64)
    assert session_rows(app) == 21, "another /64 has its own allowance"
