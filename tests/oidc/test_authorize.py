"""The authorization endpoint's parameters as OIDC Core 3.1.2.1 defines them: prompt, max_age,
id_token_hint, login_hint, and the `iss` of RFC 9207 on every response."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from idp.clock import epoch, now
from tests.support import (
    RelyingParty,
    SignInFlow,
    enroll_totp,
    make_client,
    make_user,
    query,
)


@pytest.fixture
def ada(app):
    """A returning user with an authenticator app; returns the TOTP secret."""
    user = make_user(app)
    return enroll_totp(app, user.id)


@pytest.fixture
def rp(app, client) -> RelyingParty:
    _, secret = make_client(app)
    return RelyingParty(client, secret=secret)


def answer(response) -> dict[str, str]:
    """The parameters the RP receives (the response must go straight to it)."""
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("https://rp.example/callback?"), location
    assert parse_qs(urlsplit(location).query)["iss"] == ["http://localhost"]
    return query(location)


def test_iss_is_on_a_successful_response_once(client, rp, ada):
    exchange = SignInFlow(client, rp).authorize_and_exchange(ada)
    assert exchange.params["iss"] == "http://localhost"
    params = answer(client.get(rp.authorize_url()))
    assert "code" in params and params["state"] == rp.state


def test_get_and_post_are_both_accepted(client, rp, ada):
    SignInFlow(client, rp).authorize_and_exchange(ada)
    by_post = client.post("/authorize", data=query(rp.authorize_url()))
    params = answer(by_post)
    assert rp.redeem(params["code"]).status_code == 200


def test_prompt_none_while_signed_in_answers_at_once(client, rp, ada):
    first = SignInFlow(client, rp).authorize_and_exchange(ada)
    params = answer(client.get(rp.authorize_url(prompt="none")))
    claims = rp.verify_id_token(rp.redeem(params["code"]).get_json()["id_token"])
    assert claims["sub"] == first.claims["sub"]
    assert claims["auth_time"] == first.claims["auth_time"]


def test_prompt_login_asks_for_the_password_again(client, clock, rp, ada):
    first = SignInFlow(client, rp).authorize_and_exchange(ada)
    clock.advance(seconds=30)  # the next TOTP code: each is accepted once
    again = SignInFlow(client, rp).authorize_and_exchange(ada, prompt="login")
    assert again.claims["auth_time"] >= first.claims["auth_time"] + 30


def test_prompt_login_starts_the_sign_in_afresh(client, clock, rp, ada):
    """DESIGN rule 1: the earlier TOTP is neither counted nor claimed after a new password."""
    SignInFlow(client, rp).authorize_and_exchange(ada)
    clock.advance(seconds=3600)
    flow = SignInFlow(client, rp)
    flow.start(prompt="login", acr_values="urn:idp:acr:mfa")
    flow.password()
    assert flow.location.startswith("/signin/verify"), "the second factor is asked again"
    again = SignInFlow(client, rp)
    again.start(prompt="login")
    again.password()
    assert again.location.startswith("/signin/verify"), "no trusted device: challenged"


def test_max_age_elapsed_claims_only_what_was_verified_now(client, clock, rp, ada):
    """amr and auth_time describe the new authentication, not the one an hour ago."""
    SignInFlow(client, rp).authorize_and_exchange(ada)
    clock.advance(seconds=3600)
    with client.application.app_context():
        started = epoch(now())
    flow = SignInFlow(client, rp)
    flow.start(max_age="60")
    flow.password()
    assert flow.location.startswith("/signin/verify"), "the old TOTP is not claimed again"
    flow.totp(ada)
    params = flow.until_rp()
    again = flow.rp.verify_id_token(rp.redeem(params["code"]).get_json()["id_token"])
    assert again["amr"] == ["pwd", "otp", "totp", "mfa"]
    with client.application.app_context():
        # This sign-in's time (however slow the machine), not the one an hour before.
        assert started <= again["auth_time"] <= epoch(now())


def test_max_age_zero_always_asks_for_the_password(client, clock, rp, ada):
    SignInFlow(client, rp).authorize_and_exchange(ada)
    clock.advance(seconds=1)
    flow = SignInFlow(client, rp)
    flow.start(max_age="0")
    assert flow.location.startswith("/signin?rid=")


def test_prompt_none_with_max_age_elapsed_is_login_required(client, clock, rp, ada):
    SignInFlow(client, rp).authorize_and_exchange(ada)
    clock.advance(seconds=10)
    params = answer(client.get(rp.authorize_url(prompt="none", max_age="5")))
    assert params["error"] == "login_required"


def test_login_hint_prefills_the_email(client, rp):
    flow = SignInFlow(client, rp)
    flow.start(login_hint="grace@example.com")
    page = client.get(flow.location)
    assert 'value="grace@example.com"' in page.text


def test_id_token_hint_of_the_signed_in_user_with_prompt_none(client, rp, ada):
    first = SignInFlow(client, rp).authorize_and_exchange(ada)
    params = answer(
        client.get(rp.authorize_url(prompt="none", id_token_hint=first.tokens["id_token"]))
    )
    claims = rp.verify_id_token(rp.redeem(params["code"]).get_json()["id_token"])
    assert claims["sub"] == first.claims["sub"]


def test_id_token_hint_of_another_user_with_prompt_none_is_login_required(
    app, client, clock, rp, ada
):
    grace = make_user(app, "grace@example.com", name="Grace Hopper")
    grace_secret = enroll_totp(app, grace.id)
    other_browser = app.test_client()
    graces_rp = RelyingParty(other_browser, secret=rp.secret)
    grace_token = SignInFlow(other_browser, graces_rp, email="grace@example.com")
    hint = grace_token.authorize_and_exchange(grace_secret).tokens["id_token"]
    SignInFlow(client, rp).authorize_and_exchange(ada)  # this browser: Ada

    params = answer(client.get(rp.authorize_url(prompt="none", id_token_hint=hint)))

    # OIDC Core 3.1.2.1: the hinted End-User is not the one signed in.
    assert params["error"] == "login_required"


def test_an_id_token_hint_we_did_not_issue_is_invalid_request(client, rp, ada):
    first = SignInFlow(client, rp).authorize_and_exchange(ada)
    header, payload, signature = first.tokens["id_token"].split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"

    params = answer(client.get(rp.authorize_url(prompt="none", id_token_hint=forged)))

    assert params["error"] == "invalid_request"


def test_an_expired_id_token_is_still_a_good_hint(client, clock, rp, ada):
    first = SignInFlow(client, rp).authorize_and_exchange(ada)
    clock.advance(seconds=3700)  # past exp; the session (idle 2 h) still holds
    params = answer(
        client.get(rp.authorize_url(prompt="none", id_token_hint=first.tokens["id_token"]))
    )
    assert "code" in params


def test_nonce_is_echoed_and_optional_for_the_code_flow(client, rp, ada):
    with_nonce = SignInFlow(client, rp).authorize_and_exchange(ada)
    assert with_nonce.claims["nonce"] == rp.nonce
    params = answer(client.get(rp.authorize_url(nonce=None)))
    claims = rp.verify_id_token(rp.redeem(params["code"]).get_json()["id_token"], nonce=None)
    assert "nonce" not in claims


def test_prompt_none_halfway_through_a_sign_in_is_an_error(client, rp, ada):
    flow = SignInFlow(client, rp)
    flow.start()
    flow.password()  # the second factor is still to come

    params = answer(client.get(rp.authorize_url(prompt="none")))

    assert params["error"] in ("interaction_required", "login_required")


def test_an_interactive_request_hinting_another_user_asks_that_user_to_sign_in(
    app, client, clock, rp, ada
):
    grace = make_user(app, "grace@example.com", name="Grace Hopper")
    grace_secret = enroll_totp(app, grace.id)
    other_browser = app.test_client()
    graces_flow = SignInFlow(
        other_browser, RelyingParty(other_browser, secret=rp.secret), email="grace@example.com"
    )
    hint = graces_flow.authorize_and_exchange(grace_secret).tokens["id_token"]
    SignInFlow(client, rp).authorize_and_exchange(ada)  # this browser: Ada

    location = client.get(rp.authorize_url(id_token_hint=hint)).headers["Location"]

    # OIDC Core 3.1.2.1: the session can't answer for Grace; she is asked to sign in here.
    assert location.startswith("/signin?rid=")
    flow = SignInFlow(client, rp, email="grace@example.com")
    flow.location = location
    clock.advance(seconds=30)  # a new TOTP step for this sign-in
    params = flow.complete(grace_secret)
    claims = rp.verify_id_token(rp.redeem(params["code"]).get_json()["id_token"])
    assert claims["email"] == "grace@example.com"
