"""Where you're signed in: the account and admin pages list sessions and end one of them;
clients register logout URIs; the signed-out page frames front-channel logout URIs."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from idp.extensions import db
from idp.models.client import Client
from idp.models.logout_delivery import LogoutDelivery
from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
)
from tests.web.test_admin_helpers import admin_token, post_form, sign_in, signed_in_admin

API = "/admin/api/v1"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def test_the_account_page_lists_sessions_and_signs_out_one(app: Flask) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    make_client(app, "portal", backchannel_logout_uri="https://rp.example/bc")
    other = app.test_client()
    other.environ_base["HTTP_USER_AGENT"] = CHROME
    flow = SignInFlow(other, RelyingParty(other, client_id="portal"))
    flow.start()
    flow.complete(secret)
    app.extensions["idp.clock"].advance(seconds=31)
    me = app.test_client()
    sign_in(me, "ada@example.com", secret)

    page = me.get("/account/security")
    rows = re.findall(r'<tr data-sid="([^"]+)">(.*?)</tr>', page.text, re.S)
    assert len(rows) == 2
    [(other_sid, other_row)] = [r for r in rows if "this browser" not in r[1]]
    assert "Chrome on Windows" in other_row and "PORTAL Portal" in other_row
    assert "127.0.0.1" in other_row

    refused = me.post(f"/account/sessions/{other_sid}/end")  # no CSRF token: nothing happens
    assert refused.status_code == 400  # CSRF refused
    assert other.get("/account/security").status_code == 200
    me.post(f"/account/sessions/{other_sid}/end", data={"csrf_token": csrf_of(page)})

    assert other.get("/account/security").status_code == 302  # signed out there
    assert me.get("/account/security").status_code == 200  # not here
    with app.app_context():
        [delivery] = db.session.scalars(select(LogoutDelivery)).all()
        assert (delivery.client_id, delivery.sid) == ("portal", other_sid)


def test_the_admin_sees_a_users_sessions_and_ends_one(app: Flask) -> None:
    admin_browser = app.test_client()
    signed_in_admin(app, admin_browser)
    user = make_user(app, "bob@example.com", name="Bob Baker")
    secret = enroll_totp(app, user.id)
    bob = app.test_client()
    sign_in(bob, "bob@example.com", secret)
    assert bob.get("/account/security").status_code == 200

    page = admin_browser.get(f"/admin/users/{user.subject}")
    [sid] = re.findall(r'<tr data-sid="([^"]+)">', page.text)
    post_form(
        admin_browser, f"/admin/users/{user.subject}/sessions/{sid}/end", {"confirmed": "yes"}
    )

    assert bob.get("/account/security").status_code == 302
    assert 'data-sid="' not in admin_browser.get(f"/admin/users/{user.subject}").text


def test_logout_uris_are_registered_through_the_api_and_checked(app: Flask) -> None:
    browser = app.test_client()
    token = admin_token(app, browser)
    auth = {"Authorization": f"Bearer {token}"}
    created = browser.post(
        API + "/clients",
        headers=auth,
        json={
            "name": "Claims",
            "redirect_uris": ["https://claims.example/cb"],
            "backchannel_logout_uri": "https://claims.example/bc",
            "backchannel_logout_session_required": True,
            "frontchannel_logout_uri": "https://claims.example/fc",
        },
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["backchannel_logout_uri"] == "https://claims.example/bc"
    assert body["backchannel_logout_session_required"] is True
    assert body["frontchannel_logout_session_required"] is False
    bad = browser.patch(
        f"{API}/clients/{body['client_id']}",
        headers=auth,
        json={"backchannel_logout_uri": "http://claims.example/bc#x"},
    )
    assert bad.status_code == 422
    cleared = browser.patch(
        f"{API}/clients/{body['client_id']}", headers=auth, json={"backchannel_logout_uri": ""}
    )
    assert cleared.get_json()["backchannel_logout_uri"] is None


def test_logout_uris_are_registered_through_the_cli(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "client",
            "create",
            "--client-id",
            "claims",
            "--name",
            "Claims",
            "--redirect-uri",
            "https://claims.example/cb",
            "--backchannel-logout-uri",
            "https://claims.example/bc",
            "--backchannel-logout-session-required",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.client_id == "claims"))
        assert client is not None
        assert client.backchannel_logout_uri == "https://claims.example/bc"
        assert client.backchannel_logout_session_required is True


def test_discovery_advertises_both_logout_channels(app: Flask) -> None:
    doc = app.test_client().get("/.well-known/openid-configuration").get_json()
    assert doc["backchannel_logout_supported"] is True
    assert doc["backchannel_logout_session_supported"] is True
    assert doc["frontchannel_logout_supported"] is True
    assert doc["frontchannel_logout_session_supported"] is True


def test_the_signed_out_page_frames_front_channel_clients_then_redirects(app: Flask) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app, "portal", frontchannel_logout_uri="https://rp.example/fc")
    browser = app.test_client()
    rp = RelyingParty(browser, client_id="portal", secret=client_secret)
    exchange = SignInFlow(browser, rp).authorize_and_exchange(secret)
    sid = exchange.claims["sid"]

    page = browser.get(
        "/logout?"
        + f"id_token_hint={exchange.tokens['id_token']}"
        + "&post_logout_redirect_uri=https://rp.example/bye&state=s1"
    )

    assert page.status_code == 200
    assert f'src="https://rp.example/fc?iss=http%3A%2F%2Flocalhost&amp;sid={sid}"' in page.text
    assert "frame-src https://rp.example" in page.headers["Content-Security-Policy"]
    assert 'url=https://rp.example/bye?state=s1"' in page.text
