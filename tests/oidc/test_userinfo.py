"""UserInfo (OIDC Core 5.3): GET and POST, the token in the header or the form body (RFC 6750 2)."""

from __future__ import annotations

import pytest

from tests.support import (
    RelyingParty,
    SignInFlow,
    disable_user,
    enroll_totp,
    make_client,
    make_user,
)


@pytest.fixture
def signed_in(app, client):
    """(rp, exchange) after a sign-in asking for profile and email."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    return rp, SignInFlow(client, rp).authorize_and_exchange(secret)


def expected(exchange) -> dict:
    return {
        "sub": exchange.claims["sub"],
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": "ada@example.com",
        "email_verified": True,
    }


def test_get_with_the_token_in_the_header(client, signed_in):
    _, exchange = signed_in
    response = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {exchange.tokens['access_token']}"}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert expected(exchange).items() <= response.get_json().items()


def test_post_with_the_token_in_the_header(client, signed_in):
    _, exchange = signed_in
    response = client.post(
        "/userinfo", headers={"Authorization": f"Bearer {exchange.tokens['access_token']}"}
    )
    assert response.status_code == 200
    assert expected(exchange).items() <= response.get_json().items()


def test_post_with_the_token_in_the_form_body(client, signed_in):
    _, exchange = signed_in
    response = client.post("/userinfo", data={"access_token": exchange.tokens["access_token"]})
    assert response.status_code == 200
    assert expected(exchange).items() <= response.get_json().items()


def test_a_token_in_the_query_string_is_not_accepted(client, signed_in):
    _, exchange = signed_in
    response = client.get(f"/userinfo?access_token={exchange.tokens['access_token']}")
    assert response.status_code == 401  # RFC 6750 2.3 is discouraged; we do not offer it


def test_claims_follow_the_scope(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    exchange = SignInFlow(client, rp).authorize_and_exchange(secret, scope="openid email")

    info = rp.userinfo(exchange.tokens["access_token"]).get_json()

    assert info == {
        "sub": exchange.claims["sub"],
        "email": "ada@example.com",
        "email_verified": True,
    }


def test_missing_invalid_and_revoked_tokens_are_401(client, signed_in):
    rp, exchange = signed_in
    missing = client.get("/userinfo")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].lower().startswith("bearer")

    invalid = rp.userinfo("not-a-token")
    assert invalid.status_code == 401
    assert invalid.get_json()["error"] == "invalid_token"

    rp.revoke(exchange.tokens["access_token"])
    assert rp.userinfo(exchange.tokens["access_token"]).status_code == 401


def test_an_expired_token_is_401(client, clock, signed_in):
    rp, exchange = signed_in
    clock.advance(seconds=3601)
    response = rp.userinfo(exchange.tokens["access_token"])
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_a_disabled_user_is_no_longer_described(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    exchange = SignInFlow(client, rp).authorize_and_exchange(secret)

    disable_user(app, user.id)

    assert rp.userinfo(exchange.tokens["access_token"]).status_code == 401
