"""DESIGN.md: password change, password reset and "sign out everywhere" revoke the user's tokens."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models.audit_event import AuditEvent
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    latest_mail,
    make_client,
    make_user,
    submit,
    totp_now,
)

OFFLINE = "openid profile email offline_access"
NEW_PASSWORD = "quiet-lantern-harbor-58"


@pytest.fixture
def ada(app, client):
    """Ada signed in at the RP in `client`, which holds her access and refresh tokens."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    tokens = SignInFlow(client, rp).authorize_and_exchange(secret, scope=OFFLINE).tokens
    assert_alive(rp, tokens)
    return {"user": user, "totp": secret, "rp": rp, "tokens": tokens}


def assert_alive(rp: RelyingParty, tokens: dict) -> None:
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    assert rp.introspect(tokens["access_token"]).get_json()["active"] is True


def assert_dead(rp: RelyingParty, tokens: dict) -> None:
    assert rp.userinfo(tokens["access_token"]).status_code == 401, "access token survived"
    assert rp.introspect(tokens["access_token"]).get_json()["active"] is False
    refreshed = rp.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 400, "refresh token survived"
    assert refreshed.get_json()["error"] == "invalid_grant"


def signed_out_events(app) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.event == "session.signed_out_everywhere")
        return list(db.session.scalars(query))


def test_a_password_change_revokes_the_users_tokens(app, client, ada):
    page = client.get("/account/security")
    changed = client.post(
        "/account/password",
        data={"csrf_token": csrf_of(page), "current": PASSWORD, "new": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert "Your password was changed" in client.get("/account/security").text
    assert_dead(ada["rp"], ada["tokens"])
    [event] = signed_out_events(app)
    assert event.user_id == ada["user"].id and event.detail["reason"] == "password_changed"
    assert event.detail["tokens_revoked"] == 1


def test_a_password_reset_revokes_the_users_tokens(app, client, ada, clock):
    helper = app.test_client()
    submit(helper, "/signin/forgot", {"email": "ada@example.com"})
    link = re.search(r"http://localhost(/signin/reset/\S+)", latest_mail(app)).group(1)
    clock.advance(seconds=30)  # the sign-in used this step's TOTP code
    assert submit(helper, link, {"code": totp_now(ada["totp"], app=app)}).status_code == 302
    assert submit(helper, link, {"password": NEW_PASSWORD}).status_code == 302
    assert_dead(ada["rp"], ada["tokens"])
    [event] = signed_out_events(app)
    assert event.detail["reason"] == "password_reset" and event.detail["tokens_revoked"] == 1


def test_sign_out_everywhere_revokes_the_users_tokens_and_no_one_elses(app, client, ada, clock):
    bob = make_user(app, "bob@example.com", name="Bob Babbage")
    bob_browser = app.test_client()
    bob_rp = RelyingParty(bob_browser, secret=ada["rp"].secret)
    bob_tokens = (
        SignInFlow(bob_browser, bob_rp, email="bob@example.com")
        .authorize_and_exchange(enroll_totp(app, bob.id), scope=OFFLINE)
        .tokens
    )

    page = client.get("/account/security")
    out = client.post("/account/sign-out-everywhere", data={"csrf_token": csrf_of(page)})
    assert out.status_code == 302 and out.location == "/signin"
    assert_dead(ada["rp"], ada["tokens"])
    assert_alive(bob_rp, bob_tokens)
    assert bob_rp.refresh(bob_tokens["refresh_token"]).status_code == 200
    [event] = signed_out_events(app)
    assert event.detail == {
        "reason": "signed_out_everywhere",
        "sessions_ended": 1,
        "tokens_revoked": 1,
        "trusted_devices_revoked": 0,
    }
