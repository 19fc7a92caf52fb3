"""Nothing an anonymous client sends grows the database: no rows before a sign-in starts."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from idp.extensions import db
from idp.models.session import SessionRecord
from tests.support import (
    REDIRECT_URI,
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
    query,
)


def session_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SessionRecord))


def test_page_views_and_a_first_authorize_keep_no_session_row(app, client):
    make_user(app)
    make_client(app)
    flow = SignInFlow(client, RelyingParty(client))
    for path in ("/signin", "/help", "/.well-known/openid-configuration", "/jwks.json"):
        assert client.get(path).status_code == 200, path
    flow.start()
    assert flow.location.startswith("/signin?rid="), flow.location
    page = client.get(flow.location)
    assert page.status_code == 200 and "RP Portal" in page.text
    assert session_rows(app) == 0
    assert client.get_cookie("idp_session") is None


def test_the_sign_in_started_anonymously_completes_with_one_row(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=client_secret))
    flow.authorize_and_exchange(secret)
    assert session_rows(app) == 1
    assert client.get_cookie("idp_anon") is None, "the anonymous cookie went into the row"


def test_csrf_still_guards_the_anonymous_forms(app, client):
    make_user(app)
    stranger = app.test_client()
    foreign_token = csrf_of(stranger.get("/signin"))
    own_token = csrf_of(client.get("/signin"))
    form = {"email": "ada@example.com", "password": "wrong"}
    assert client.post("/signin", data=form).status_code == 400
    assert client.post("/signin", data={**form, "csrf_token": foreign_token}).status_code == 400
    assert client.post("/signin", data={**form, "csrf_token": own_token}).status_code == 401
    assert session_rows(app) == 0


def test_a_forged_anonymous_cookie_is_ignored(app, client):
    make_user(app)
    token = csrf_of(client.get("/signin"))
    client.set_cookie("idp_anon", "eyJjc3JmX3Rva2VuIjoieCJ9.forged")
    form = {"email": "ada@example.com", "password": "wrong", "csrf_token": token}
    assert client.post("/signin", data=form).status_code == 400


def test_a_one_mebibyte_post_is_refused_unread(app, client):
    make_client(app)
    body = {"client_id": "rp", "response_type": "code", "state": "x" * (1024 * 1024)}
    assert client.post("/authorize", data=body).status_code == 413
    assert client.post("/signin", data=body).status_code == 413
    assert client.post("/token", data=body).status_code == 413
    assert session_rows(app) == 0


def test_an_oversized_state_is_an_oauth_error_sent_to_the_client(app, client):
    make_client(app)
    flow = SignInFlow(client, RelyingParty(client, state="s" * 3000))
    response = flow.start()
    assert response.status_code == 302 and response.location.startswith(REDIRECT_URI)
    params = query(response.location)
    assert params["error"] == "invalid_request" and "state" in params["error_description"]
    assert "state" not in params, "an oversized state is not echoed"
    assert session_rows(app) == 0


def test_another_oversized_parameter_echoes_the_state(app, client):
    make_client(app)
    rp = RelyingParty(client)
    response = client.post("/authorize", data=query(rp.authorize_url(login_hint="a" * 2049)))
    params = query(response.location)
    assert params["error"] == "invalid_request" and params["state"] == rp.state


def test_an_oversized_request_with_an_unknown_redirect_uri_gets_the_error_page(app, client):
    make_client(app)
    rp = RelyingParty(client, redirect_uri="https://evil.example/cb", nonce="n" * 5000)
    response = client.get(rp.authorize_url())
    assert response.status_code == 400 and "location" not in response.headers
    assert session_rows(app) == 0


def test_a_request_too_long_for_a_url_is_kept_server_side_and_completes(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    # Random values: the carried form is compressed, so repetition would still fit a URL.
    state, nonce = secrets.token_urlsafe(1500), secrets.token_urlsafe(1500)
    rp = RelyingParty(client, secret=client_secret, state=state, nonce=nonce)
    flow = SignInFlow(client, rp)
    params = query(rp.authorize_url())
    response = client.post("/authorize", data=params)
    flow.location = response.location
    assert session_rows(app) == 1, "too long to carry: kept in a row"
    code = flow.complete(secret)["code"]
    assert rp.redeem(code).status_code == 200


def start_kept_sign_in(browser, environ: dict[str, str] | None = None):
    """An authorization request too long to carry in a URL: kept in a session row."""
    rp = RelyingParty(browser, state=secrets.token_urlsafe(1500), nonce=secrets.token_urlsafe(1500))
    return browser.get(rp.authorize_url(), environ_overrides=environ or {})


def test_unfinished_sign_ins_per_address_are_bounded(app, client):
    # The default bound is 20; these 23 browsers share one address.
    make_user(app)
    make_client(app)
    for _ in range(23):
        started = start_kept_sign_in(app.test_client())
        assert started.status_code == 302
    assert session_rows(app) == 20
    start_kept_sign_in(client, {"REMOTE_ADDR": "203.0.113.9"})
    assert session_rows(app) == 21, "another address has its own allowance"


def test_expired_rows_go_without_prune(app, client, clock):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    SignInFlow(client, RelyingParty(client, secret=client_secret)).authorize_and_exchange(secret)
    visitor = app.test_client()
    visitor.get("/help")
    assert session_rows(app) == 1
    clock.advance(hours=3)
    visitor.get("/help")
    assert session_rows(app) == 0, "the idle session expired and was swept"
