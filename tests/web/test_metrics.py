"""/metrics: security events, tokens and requests counted; a bearer token when configured."""

from __future__ import annotations

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tests.oidc.test_tokens import OFFLINE
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    deliver_mail,
    enroll_totp,
    make_client,
    make_user,
    submit,
)

TOKEN = "metrics-scraper-token-0123456789"


@pytest.fixture
def overrides() -> dict[str, object]:
    return {"login_max_failures": 2, "refresh_reuse_grace_seconds": 0}


@pytest.fixture
def app(fresh_app: Flask) -> Flask:
    """Counters belong to the app and only go up: each test counts from zero in a new one."""
    return fresh_app


def scrape(client, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, by name and sorted labels."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_a_sign_in_moves_the_security_counters(app, client) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    make_user(app, "bob@example.com")
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    # Bob gets locked out: two wrong passwords, then the right one is refused.
    bob = SignInFlow(app.test_client(), RelyingParty(app.test_client(), secret=client_secret))
    for _ in range(2):
        bob.start()
        bob.password("bob@example.com", "wrong-password-1")
    bob.start()
    assert bob.password("bob@example.com", PASSWORD).status_code == 429

    exchange = SignInFlow(client, rp).authorize_and_exchange(secret, scope=OFFLINE)
    old_refresh = exchange.tokens["refresh_token"]
    assert rp.refresh(old_refresh).status_code == 200
    assert rp.refresh(old_refresh).status_code == 400  # reused after rotation
    submit(app.test_client(), "/signin/forgot", {"email": "ada@example.com"})
    assert scrape(client)[("idp_mail_queue_depth", ())] >= 1  # queued for the worker
    deliver_mail(app)

    samples = scrape(client)

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    steps = "idp_sign_in_steps_total"
    assert value(steps, factor="password", result="failed", purpose="sign_in") == 2
    assert value(steps, factor="password", result="verified", purpose="sign_in") == 1
    assert value(steps, factor="totp", result="verified", purpose="sign_in") == 1
    assert value("idp_lockouts_total", factor="password") == 1
    assert value("idp_tokens_issued_total", grant="authorization_code") == 1
    assert value("idp_tokens_issued_total", grant="refresh_token") == 1
    assert value("idp_refresh_token_reuse_total") == 1
    assert value("idp_mails_total", result="sent") == 1
    token_requests = "idp_request_duration_seconds_count"
    assert value(token_requests, endpoint="provider.token", method="POST", status="2xx") == 2
    assert value(token_requests, endpoint="provider.token", method="POST", status="4xx") == 1
    assert ("idp_db_connections_checked_out", ()) in samples
    # Endpoint names, not paths: no label carries a rid, a token or a query string.
    endpoints = {dict(labels).get("endpoint") for _, labels in samples}
    assert not any("/" in e for e in endpoints if e), endpoints


def test_a_challenge_skipped_on_a_trusted_device_is_counted(app, client, clock) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    first = SignInFlow(client, RelyingParty(client, secret=client_secret))
    first.start()
    first.password()
    first.totp(secret, remember=True)
    first.until_rp()
    client.delete_cookie("idp_session")  # the session ends; the device cookie stays

    again = SignInFlow(client, RelyingParty(client, secret=client_secret))
    again.start()
    again.password()
    assert "code" in again.until_rp(), "the trusted device was challenged"

    assert scrape(client)[("idp_second_factor_skips_total", ())] == 1


class TestBearerToken:
    @pytest.fixture
    def overrides(self) -> dict[str, object]:
        return {"metrics_token": TOKEN}

    def test_scrape_needs_the_token(self, client) -> None:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
        assert wrong.status_code == 401
        assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
        assert scrape(client, Authorization=f"Bearer {TOKEN}")

    def test_health_needs_no_token(self, client) -> None:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200


def test_made_up_methods_share_one_latency_series(client) -> None:
    """The method is the client's to choose: a thousand spellings must not be a thousand series."""
    for n in range(5):
        client.open("/healthz", method=f"X{n}")
    client.get("/healthz")
    methods = {
        dict(labels)["method"]
        for name, labels in scrape(client)
        if name == "idp_request_duration_seconds_count"
    }
    assert methods == {"GET", "other"}
