"""Helpers for the admin tests: a signed-in admin browser, an admin API token, DB peeks."""

from __future__ import annotations

import base64
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.extensions import db
from idp.models.audit_event import AuditEvent
from idp.models.user import User
from tests.support import PASSWORD, csrf_of, enroll_totp, make_client, make_user, totp_now

ADMIN_EMAIL = "root@example.com"


def sign_in(browser: FlaskClient, email: str, secret: str, password: str = PASSWORD) -> None:
    """Password, then the authenticator app, at the account (no relying party)."""
    page = browser.get("/signin")
    done = browser.post(
        "/signin", data={"csrf_token": csrf_of(page), "email": email, "password": password}
    )
    assert done.status_code == 302, done.text
    page = browser.get("/signin/verify")
    code = totp_now(secret, app=browser.application)
    done = browser.post("/signin/verify", data={"csrf_token": csrf_of(page), "code": code})
    assert done.status_code == 302, done.text


def signed_in_admin(app: Flask, browser: FlaskClient, email: str = ADMIN_EMAIL) -> User:
    """An admin with an authenticator app, signed in in `browser` just now."""
    user = make_user(app, email, name="Root Admin", is_admin=True)
    sign_in(browser, email, enroll_totp(app, user.id))
    return user


def post_form(browser: FlaskClient, url: str, data: dict[str, Any] | None = None) -> TestResponse:
    """POST a console form with a valid CSRF token (taken from the admin home page)."""
    token = csrf_of(browser.get("/admin/users/new"))
    return browser.post(url, data={"csrf_token": token, **(data or {})})


def admin_token(app: Flask, browser: FlaskClient, client_id: str = "ops-bot", **fields: Any) -> str:
    """An access token from the client-credentials grant with scope idp:admin."""
    scopes = fields.pop("scopes", ["idp:admin"])
    _, secret = make_client(app, client_id, redirect_uris=[], scopes=scopes, **fields)
    return client_credentials(browser, client_id, secret or "", "idp:admin")


def client_credentials(browser: FlaskClient, client_id: str, secret: str, scope: str) -> str:
    """POST /token with grant_type=client_credentials; returns the access token."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = browser.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def user_row(app: Flask, email: str) -> User | None:
    """The user as stored now (detached)."""
    with app.app_context():
        user = User.by_email(email)
        if user is not None:
            db.session.expunge(user)
        return user


def events(app: Flask, name: str | None = None) -> list[AuditEvent]:
    """Audit events, oldest first (optionally one kind)."""
    with app.app_context():
        query = db.select(AuditEvent).order_by(AuditEvent.id)
        if name:
            query = query.where(AuditEvent.event == name)
        found = list(db.session.scalars(query))
        for event in found:
            db.session.expunge(event)
        return found
