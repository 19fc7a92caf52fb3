"""Who is signed in, and signing them out: the console (behind a confirmation that needs no
JavaScript), the JSON API and the CLI end one session or all of them, revoke the tokens the
apps hold, queue logout tokens, and audit who did it."""

from __future__ import annotations

import json
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.extensions import db
from idp.models.audit_event import AuditEvent
from idp.models.logout_delivery import LogoutDelivery
from tests.support import RelyingParty, SignInFlow, enroll_totp, make_client, make_user
from tests.web.test_admin_helpers import admin_token, post_form, signed_in_admin

API = "/admin/api/v1"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def _bob_in_portal(app: Flask) -> tuple[FlaskClient, RelyingParty, dict, str]:
    """Bob signed in to the Portal app in his own browser; returns the browser, the RP,
    its tokens and Bob's sub."""
    user = make_user(app, "bob@example.com", name="Bob Baker")
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app, "portal", backchannel_logout_uri="https://rp.example/bc")
    bob = app.test_client()
    bob.environ_base["HTTP_USER_AGENT"] = CHROME
    rp = RelyingParty(bob, client_id="portal", secret=client_secret)
    exchange = SignInFlow(bob, rp, email="bob@example.com").authorize_and_exchange(
        secret, scope="openid profile offline_access", prompt="consent"
    )
    assert "refresh_token" in exchange.tokens
    return bob, rp, exchange.tokens, user.subject


def _active(rp: RelyingParty, token: str) -> bool:
    return rp.introspect(token).get_json()["active"]


def _events(app: Flask, name: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def _deliveries(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [(d.client_id, d.reason) for d in db.session.scalars(select(LogoutDelivery))]


def test_the_console_lists_sessions_and_signs_out_everywhere_after_a_confirmation(app):
    admin_browser = app.test_client()
    admin = signed_in_admin(app, admin_browser)
    bob, rp, tokens, sub = _bob_in_portal(app)

    page = admin_browser.get(f"/admin/users/{sub}")
    [row] = re.findall(r'<tr data-sid="[^"]+">(.*?)</tr>', page.text, re.S)
    assert "Chrome on Windows" in row and "PORTAL Portal" in row and "127.0.0.1" in row
    assert "Sign out everywhere" in page.text
    assert "Signs bob@example.com out of every browser" in page.text  # the <details> step

    # A POST without the confirmation (an old form, no <details>) only asks.
    asked = post_form(admin_browser, f"/admin/users/{sub}/sign-out-everywhere")
    assert asked.status_code == 200
    assert "revokes the tokens their apps hold" in asked.text
    assert 'name="confirmed" value="yes"' in asked.text
    assert bob.get("/account/security").status_code == 200
    assert _active(rp, tokens["access_token"])

    done = post_form(admin_browser, f"/admin/users/{sub}/sign-out-everywhere", {"confirmed": "yes"})
    assert done.status_code == 302

    assert bob.get("/account/security").status_code == 302  # signed out
    assert not _active(rp, tokens["access_token"])
    assert rp.refresh(tokens["refresh_token"]).status_code == 400
    assert ("portal", "admin_signed_out") in _deliveries(app)
    [event] = _events(app, "session.signed_out_everywhere")
    assert event.detail["via"] == "console" and event.detail["admin_id"] == admin.id
    assert event.detail["sessions_ended"] == 1 and event.detail["tokens_revoked"] >= 1
    assert "Not signed in anywhere." in admin_browser.get(f"/admin/users/{sub}").text


def test_ending_one_session_revokes_the_tokens_issued_in_it(app):
    admin_browser = app.test_client()
    signed_in_admin(app, admin_browser)
    bob, rp, tokens, sub = _bob_in_portal(app)
    page = admin_browser.get(f"/admin/users/{sub}")
    [sid] = re.findall(r'<tr data-sid="([^"]+)">', page.text)

    asked = post_form(admin_browser, f"/admin/users/{sub}/sessions/{sid}/end")
    assert asked.status_code == 200 and "Chrome on Windows" in asked.text
    assert _active(rp, tokens["access_token"])
    post_form(admin_browser, f"/admin/users/{sub}/sessions/{sid}/end", {"confirmed": "yes"})

    assert bob.get("/account/security").status_code == 302
    assert not _active(rp, tokens["access_token"])
    [event] = _events(app, "session.ended")
    assert event.detail["sid"] == sid and event.detail["tokens_revoked"] == 1
    missing = post_form(admin_browser, f"/admin/users/{sub}/sessions/{sid}/end")
    assert missing.status_code == 404


def test_the_api_lists_ends_one_and_signs_out_everywhere(app):
    bob, rp, tokens, sub = _bob_in_portal(app)
    api_browser = app.test_client()
    auth = {"Authorization": f"Bearer {admin_token(app, api_browser)}"}

    listed = api_browser.get(f"{API}/users/{sub}/sessions", headers=auth)
    assert listed.status_code == 200
    [session] = listed.get_json()["sessions"]
    assert session["browser"] == "Chrome on Windows" and session["apps"] == ["PORTAL Portal"]
    assert session["ip"] == "127.0.0.1" and session["signed_in_at"].endswith("Z")

    unknown = api_browser.delete(f"{API}/users/{sub}/sessions/nope", headers=auth)
    assert unknown.status_code == 404 and unknown.mimetype == "application/problem+json"
    ended = api_browser.delete(f"{API}/users/{sub}/sessions/{session['sid']}", headers=auth)
    assert ended.status_code == 204
    assert bob.get("/account/security").status_code == 302
    assert not _active(rp, tokens["access_token"])
    assert _events(app, "session.ended")[0].detail["api_client"] == "ops-bot"

    everywhere = api_browser.post(f"{API}/users/{sub}/sign-out-everywhere", headers=auth)
    assert everywhere.status_code == 200 and everywhere.get_json()["sessions"] == []
    assert rp.refresh(tokens["refresh_token"]).status_code == 400
    [event] = _events(app, "session.signed_out_everywhere")
    assert event.detail["via"] == "api"


def test_the_cli_lists_ends_one_and_signs_out_everywhere(app):
    bob, rp, tokens, _ = _bob_in_portal(app)
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["user", "sessions", "bob@example.com"])
    assert listed.exit_code == 0, listed.output
    [session] = json.loads(listed.output)
    assert session["browser"] == "Chrome on Windows"

    ended = runner.invoke(args=["user", "end-session", "bob@example.com", session["sid"]])
    assert ended.exit_code == 0 and "1 token(s) revoked" in ended.output
    assert bob.get("/account/security").status_code == 302
    again = runner.invoke(args=["user", "end-session", "bob@example.com", session["sid"]])
    assert again.exit_code != 0 and "No such session" in again.output

    everywhere = runner.invoke(args=["user", "sign-out-everywhere", "bob@example.com"])
    assert everywhere.exit_code == 0 and "signed out everywhere" in everywhere.output
    assert rp.refresh(tokens["refresh_token"]).status_code == 400
    [event] = _events(app, "session.signed_out_everywhere")
    assert event.detail["via"] == "cli"


def test_the_cli_takes_a_sid_that_begins_with_a_dash(app):
    """A sid is base64url: one in 64 begins with "-", which must not read as an option."""
    make_user(app, "bob@example.com")
    result = app.test_cli_runner().invoke(
        args=["user", "end-session", "bob@example.com", "-Xq3vK9aZ"]
    )
    assert result.exit_code == 1 and "No such session" in result.output
