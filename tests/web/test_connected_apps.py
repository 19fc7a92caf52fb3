"""Apps you allowed: the account page lists each consent with what it shares, and removing one
revokes the app's tokens and makes it ask again (the consent page's promise)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.extensions import db
from idp.models.audit_event import AuditEvent
from idp.models.consent import Consent
from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
    query,
)

OFFLINE = "openid email offline_access"


def consented(app: Flask, client: FlaskClient) -> tuple[RelyingParty, dict[str, str]]:
    """Ada allows the third-party "shop" client; returns the RP and the tokens it holds."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app, "shop", first_party=False)
    rp = RelyingParty(client, client_id="shop", secret=client_secret)
    flow = SignInFlow(client, rp)
    flow.start(scope=OFFLINE)
    flow.password()
    flow.totp(secret)
    while not flow.location.startswith("/consent/"):
        flow.follow()
    flow.consent()
    code = flow.until_rp()["code"]
    tokens = rp.redeem(code).get_json()
    assert "refresh_token" in tokens, tokens
    return rp, tokens


def app_rows(page_text: str) -> dict[str, str]:
    """The rows of the connected-apps table, by client_id."""
    return dict(re.findall(r'<tr data-client="([^"]+)">(.*?)</tr>', page_text, re.S))


def test_the_account_page_lists_an_allowed_app_with_what_it_may_see(
    app: Flask, client: FlaskClient
) -> None:
    consented(app, client)

    page = client.get("/account/security")

    row = app_rows(page.text)["shop"]
    assert "SHOP Portal" in row
    assert re.findall(r'data-scope="([^"]+)"', row) == ["email", "offline_access", "openid"]
    assert "Your email address" in row and "Confirm who you are" in row
    assert re.search(r"\d{1,2} [A-Za-z]{3,4} \d{4}", row)  # when, e.g. "30 Nov 2026"
    assert "Remove access" in row and "<details" in row


def test_removing_an_app_revokes_its_tokens_and_it_asks_again(
    app: Flask, client: FlaskClient
) -> None:
    rp, tokens = consented(app, client)
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    page = client.get("/account/security")

    removed = client.post("/account/apps/shop/remove", data={"csrf_token": csrf_of(page)})

    assert removed.status_code == 302
    after = client.get("/account/security")
    assert "shop" not in app_rows(after.text)
    assert 'id="no-apps"' in after.text
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    refreshed = rp.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.get_json()["error"] == "invalid_grant"
    again = client.get(rp.authorize_url(scope=OFFLINE))
    location = again.headers["Location"]
    for _ in range(4):  # single sign-on: straight through to the consent page
        if location.startswith("/consent/"):
            break
        location = client.get(location).headers["Location"]
    assert location.startswith("/consent/"), location
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == "consent.revoked")
        ).all()
        assert [(e.client_id, e.detail["tokens_revoked"]) for e in events] == [("shop", 1)]


def test_a_code_issued_before_the_removal_buys_nothing(app: Flask, client: FlaskClient) -> None:
    rp, _ = consented(app, client)
    code = query(client.get(rp.authorize_url(scope=OFFLINE)).headers["Location"])["code"]
    page = client.get("/account/security")

    client.post("/account/apps/shop/remove", data={"csrf_token": csrf_of(page)})

    assert rp.redeem(code).status_code == 400


def test_removing_an_app_without_the_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    rp, tokens = consented(app, client)

    refused = client.post("/account/apps/shop/remove")

    assert refused.status_code == 400  # CSRF refused
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    assert "shop" in app_rows(client.get("/account/security").text)
    with app.app_context():
        assert db.session.scalars(select(Consent)).one().client_id == "shop"


def test_removing_an_app_needs_a_signed_in_user(app: Flask, client: FlaskClient) -> None:
    consented(app, client)
    stranger = app.test_client()

    response = stranger.post("/account/apps/shop/remove")

    assert response.status_code in (302, 400)
    with app.app_context():
        assert db.session.scalars(select(Consent)).one().client_id == "shop"
