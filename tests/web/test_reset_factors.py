"""Password reset: the link proves the mailbox, so the second factor must live elsewhere."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.extensions import db
from idp.models.audit_event import AuditEvent
from idp.models.user import User
from tests.soft_authenticator import SoftAuthenticator, assert_key_at, give_key
from tests.support import (
    PASSWORD,
    code_in_mail,
    csrf_of,
    enroll_totp,
    latest_mail,
    make_user,
    reset_link_in_mail,
    submit,
    totp_now,
)

NEW_PASSWORD = "a brand new passphrase 2026"


def reset_link(app: Flask, client: FlaskClient, email: str = "ada@example.com") -> str:
    """Ask for a reset; the path of the link in the mail."""
    submit(client, "/signin/forgot", {"email": email})
    return reset_link_in_mail(app, email)


def password_works(app: Flask, email: str, password: str) -> bool:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        return app.extensions["idp.passwords"].check(user.password_hash, password)


def turn_on_email_codes(app: Flask, user_id: int) -> None:
    from idp.clock import now

    with app.app_context():
        user = db.session.get(User, user_id)
        user.email_factor_at = now()
        db.session.commit()


def test_the_reset_page_never_accepts_an_email_code(app, client):
    user = make_user(app)
    enroll_totp(app, user.id)
    turn_on_email_codes(app, user.id)
    link = reset_link(app, client)
    page = client.get(link)
    assert "Code from your authenticator app" in page.text
    assert ">Code by email<" not in page.text, "the mailbox can't be the second factor here"
    assert "method=email_code" not in page.text
    # Asking for it by name gets the authenticator app instead, and no code is mailed.
    forced = client.get(link + "?method=email_code")
    assert "Code from your authenticator app" in forced.text
    assert "Your code to sign in" not in latest_mail(app)
    # A valid sign-in email code typed on the reset page does not prove the reset.
    from idp.authn import email_code

    with app.app_context():
        email_code.send_code(
            db.session.get(User, user.id), "signin", now=_now(app), app_secret="test-secret-key"
        )
    code = code_in_mail(app)
    refused = submit(client, link + "?method=email_code", {"code": code})
    assert refused.status_code == 400
    assert "Choose a new password" not in refused.text
    assert submit(client, link, {"password": NEW_PASSWORD}).status_code != 302
    assert password_works(app, "ada@example.com", PASSWORD)


def _now(app: Flask):
    from idp.clock import now

    with app.app_context():
        return now()


def test_the_reset_page_uses_the_same_labels_and_lock_as_sign_in(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    link = reset_link(app, client)
    for _ in range(10):
        submit(client, link, {"code": "000000"})
    locked = submit(client, link, {"code": totp_now(secret, app=app)})
    assert locked.status_code == 429, "ten wrong codes lock the second factor everywhere"
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent.event).where(AuditEvent.user_id == user.id)
        ).all()
        assert "second_factor.locked" in events
        purposes = db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.event == "second_factor.failed")
        ).all()
        assert all(d["purpose"] == "password_reset" for d in purposes)


def test_a_key_only_user_proves_the_reset_with_the_key(app, client):
    user = make_user(app)
    key = SoftAuthenticator()
    give_key(app, user.id, key)
    link = reset_link(app, client)
    page = client.get(link)
    assert "Use my security key or passkey" in page.text
    # Without the key, the new password is refused.
    submit(client, link, {"password": NEW_PASSWORD})
    assert password_works(app, "ada@example.com", PASSWORD)
    answer = assert_key_at(
        client, link + "/webauthn/options", link + "/webauthn", key, csrf=csrf_of(page)
    )
    assert answer["redirect"] == link
    assert "Choose a new password" in client.get(link).text
    assert submit(client, link, {"password": NEW_PASSWORD}).status_code == 302
    assert password_works(app, "ada@example.com", NEW_PASSWORD)


def test_another_users_key_does_not_prove_a_reset(app, client):
    make_user(app)
    mallory = make_user(app, "mallory@example.com")
    give_key(app, mallory.id, SoftAuthenticator())
    ada = make_user(app, "ada2@example.com")
    enroll_totp(app, ada.id)
    link = reset_link(app, client, "ada2@example.com")
    page = client.get(link)
    refused = client.post(link + "/webauthn/options", headers={"X-CSRFToken": csrf_of(page)})
    assert refused.status_code == 403, "no key on ada's account: no options"


def test_an_email_only_user_waits_and_is_told_with_a_cancel_link(app, client, clock):
    user = make_user(app)
    turn_on_email_codes(app, user.id)
    link = reset_link(app, client)
    page = client.get(link)
    assert "you can choose a new password after" in page.text
    mail = latest_mail(app)
    assert "24 hours" in mail and "/signin/reset/cancel/" in mail
    # When, written in the reader's words and zone, named.
    assert re.search(r"only after\n[A-Z][a-z]+ \d{1,2}, \d{4}, \d\d:\d\d UTC, 24 hours", mail)
    # Before the wait ends, no new password, even posted directly.
    client.post(link, data={"csrf_token": csrf_of(page), "password": NEW_PASSWORD})
    assert password_works(app, "ada@example.com", PASSWORD)
    clock.advance(seconds=24 * 3600)
    assert "Choose a new password" in client.get(link).text
    assert submit(client, link, {"password": NEW_PASSWORD}).status_code == 302
    assert password_works(app, "ada@example.com", NEW_PASSWORD)


def test_the_owner_cancels_a_waiting_reset(app, client, clock):
    user = make_user(app)
    turn_on_email_codes(app, user.id)
    link = reset_link(app, client)
    client.get(link)
    cancel = re.search(r"http://localhost(/signin/reset/cancel/\S+)", latest_mail(app)).group(1)
    owner = app.test_client()
    assert "Cancel the reset" in owner.get(cancel).text
    assert "Reset cancelled" in submit(owner, cancel, {}).text
    clock.advance(seconds=25 * 3600)
    assert client.get(link).status_code == 400, "the link no longer works"
    with app.app_context():
        assert db.session.scalar(
            select(AuditEvent).where(AuditEvent.event == "password.reset_cancelled")
        )


@pytest.mark.parametrize("overrides", [{"reset_cooling_off_hours": 2}])
def test_the_cooling_off_is_a_setting(app, client, clock):
    user = make_user(app)
    turn_on_email_codes(app, user.id)
    link = reset_link(app, client)
    client.get(link)
    assert "2 hours" in latest_mail(app)
    clock.advance(seconds=int(timedelta(hours=1).total_seconds()))
    assert "Choose a new password" not in client.get(link).text
    clock.advance(seconds=int(timedelta(hours=1).total_seconds()))
    assert "Choose a new password" in client.get(link).text
