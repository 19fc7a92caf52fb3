"""OpenID Connect RP-Initiated Logout 1.0: the end_session_endpoint."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
    query,
)

BYE = "https://rp.example/bye"  # registered by make_client


@pytest.fixture
def signed_in(app, client):
    """(rp, exchange): the browser holds a session, the RP an ID token."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    return rp, SignInFlow(client, rp).authorize_and_exchange(secret)


def still_signed_in(client, rp) -> bool:
    """prompt=none answers with a code only while the session lives."""
    params = query(client.get(rp.authorize_url(prompt="none")).headers["Location"])
    assert "code" in params or params.get("error") == "login_required", params
    return "code" in params


def logout_url(**params: str) -> str:
    return "/logout?" + urlencode(params)


def test_logout_with_hint_redirects_to_the_registered_uri_with_state(client, signed_in):
    rp, exchange = signed_in
    cookie = client.get_cookie("idp_session").value

    response = client.get(
        logout_url(
            id_token_hint=exchange.tokens["id_token"], post_logout_redirect_uri=BYE, state="st8"
        )
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"{BYE}?state=st8"
    assert not still_signed_in(client, rp)
    # The server-side record is gone too: the old cookie value signs no one in.
    stolen = client.application.test_client()
    stolen.set_cookie("idp_session", cookie)
    assert not still_signed_in(stolen, rp)


def test_logout_by_post_works_the_same(client, signed_in):
    rp, exchange = signed_in
    response = client.post(
        "/logout",
        data={"id_token_hint": exchange.tokens["id_token"], "post_logout_redirect_uri": BYE},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == BYE
    assert not still_signed_in(client, rp)


def test_logout_with_hint_and_no_redirect_shows_the_signed_out_page(client, signed_in):
    rp, exchange = signed_in
    response = client.get(logout_url(id_token_hint=exchange.tokens["id_token"]))
    assert response.status_code == 200
    assert "You are signed out" in response.text
    assert "RP Portal" in response.text
    assert not still_signed_in(client, rp)


def test_an_expired_id_token_is_still_a_good_hint(client, clock, signed_in):
    _, exchange = signed_in
    clock.advance(seconds=3700)  # past the ID token's exp, the session still alive
    response = client.get(
        logout_url(id_token_hint=exchange.tokens["id_token"], post_logout_redirect_uri=BYE)
    )
    assert response.headers["Location"] == BYE


def test_without_a_hint_the_user_is_asked_to_confirm(client, signed_in):
    rp, _ = signed_in
    page = client.get(logout_url(client_id="rp", post_logout_redirect_uri=BYE, state="st8"))

    assert page.status_code == 200
    assert "Sign out?" in page.text and "RP Portal" in page.text
    assert still_signed_in(client, rp)  # nothing happened yet

    done = client.post(
        "/logout",
        data={
            "csrf_token": csrf_of(page),
            "confirm": "yes",
            "client_id": "rp",
            "post_logout_redirect_uri": BYE,
            "state": "st8",
        },
    )

    # Signed out, but without a hint the redirect target is not proven to be the RP's wish
    # (RP-Initiated Logout 1.0 section 3): no redirect.
    assert done.status_code == 200
    assert "You are signed out" in done.text
    assert "Location" not in done.headers
    assert not still_signed_in(client, rp)


def test_the_confirmation_needs_its_csrf_token(client, signed_in):
    rp, _ = signed_in
    response = client.post("/logout", data={"confirm": "yes"})
    assert response.status_code == 400
    assert still_signed_in(client, rp)


def test_an_unregistered_post_logout_redirect_uri_is_never_followed(client, signed_in):
    rp, exchange = signed_in
    response = client.get(
        logout_url(
            id_token_hint=exchange.tokens["id_token"],
            post_logout_redirect_uri="https://evil.example/bye",
            state="st8",
        )
    )
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "evil.example" not in response.text
    assert not still_signed_in(client, rp)


def test_a_forged_hint_is_refused_without_redirect(client, signed_in):
    rp, exchange = signed_in
    header, payload, signature = exchange.tokens["id_token"].split(".")
    forged = ".".join([header, payload, signature[::-1]])

    response = client.get(logout_url(id_token_hint=forged, post_logout_redirect_uri=BYE))

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert still_signed_in(client, rp)


def test_a_hint_for_another_client_is_refused(app, client, signed_in):
    rp, exchange = signed_in
    make_client(app, "other")
    response = client.get(
        logout_url(
            id_token_hint=exchange.tokens["id_token"],
            client_id="other",
            post_logout_redirect_uri=BYE,
        )
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert still_signed_in(client, rp)


def test_logout_without_a_session_still_answers(app, client):
    make_client(app)
    response = client.get(logout_url(client_id="rp"))
    assert response.status_code == 200


def test_odd_logout_parameters_are_never_a_server_error(app, client):
    make_client(app)
    for params in (
        {"client_id": "rp\u0000"},
        {"client_id": "rp", "post_logout_redirect_uri": BYE + '"\u00e9\u0000'},
        {"client_id": "rp", "post_logout_redirect_uri": BYE, "state": '"\\\u00e9\n'},
        {"id_token_hint": '"\u00e9\u0000'},
        {"id_token_hint": "e30.e30.e30", "client_id": "ghost"},
        {"ui_locales": "\u0000", "logout_hint": "\u00e9" * 500},
    ):
        response = client.get(logout_url(**params))
        assert response.status_code in (200, 400), params
        assert "Location" not in response.headers


@pytest.fixture
def bobs_id_token(app, signed_in):
    """An ID token the same RP holds for another user, who signed in in another browser."""
    rp, _ = signed_in
    bob = make_user(app, "bob@example.com", name="Bob Babbage")
    secret = enroll_totp(app, bob.id)
    browser = app.test_client()
    bobs_rp = RelyingParty(browser, secret=rp.secret)
    exchange = SignInFlow(browser, bobs_rp, email="bob@example.com").authorize_and_exchange(secret)
    return exchange.tokens["id_token"]


def test_another_users_hint_asks_before_signing_out(client, signed_in, bobs_id_token):
    rp, _ = signed_in
    params = {"id_token_hint": bobs_id_token, "post_logout_redirect_uri": BYE, "state": "st8"}

    page = client.get(logout_url(**params))

    # RP-Initiated Logout 1.0 section 2: the hint is not the signed-in user's, so ask.
    assert page.status_code == 200
    assert "Sign out?" in page.text
    assert "ada@example.com" in page.text  # whom the confirmation would sign out
    assert "bob@example.com" not in page.text
    assert still_signed_in(client, rp)

    done = client.post("/logout", data={"csrf_token": csrf_of(page), "confirm": "yes", **params})

    # The hint still proves the RP asked: its registered URI is followed, with state.
    assert done.status_code == 302
    assert done.headers["Location"] == f"{BYE}?state=st8"
    assert not still_signed_in(client, rp)


def test_another_users_hint_cannot_skip_the_csrf_token(client, signed_in, bobs_id_token):
    rp, _ = signed_in
    forged = client.post(
        "/logout",
        data={"id_token_hint": bobs_id_token, "confirm": "yes", "post_logout_redirect_uri": BYE},
    )
    assert forged.status_code == 400
    assert "Location" not in forged.headers
    assert still_signed_in(client, rp)


def test_the_users_own_hint_still_signs_out_at_once(client, signed_in, bobs_id_token):
    rp, exchange = signed_in
    response = client.get(
        logout_url(id_token_hint=exchange.tokens["id_token"], post_logout_redirect_uri=BYE)
    )
    assert response.headers["Location"] == BYE
    assert not still_signed_in(client, rp)
