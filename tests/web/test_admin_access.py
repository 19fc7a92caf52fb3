"""Every /admin route, console and API, refuses whoever is not a stepped-up admin.

The routes come from the app's URL map, so a route added later is covered without editing
this file.
"""

from __future__ import annotations

import pytest
from flask import Flask, url_for

from idp.clock import now
from idp.extensions import db
from idp.models.client import Client
from idp.models.hashing import sha256_hex
from idp.models.token import Token
from tests.support import csrf_of, enroll_totp, make_client, make_user, totp_now
from tests.web.test_admin_helpers import (
    admin_token,
    client_credentials,
    events,
    sign_in,
    signed_in_admin,
    user_row,
)

API = "/admin/api/v1"


def admin_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(method, url, endpoint) for every rule under /admin, placeholders filled."""
    target = user_row(app, "target@example.com")
    assert target is not None
    values = {
        "client_id": "rp",
        "subject": target.subject,
        "user_id": target.subject,
        "device_id": 1,
        "sid": "no-such-session",
    }
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/admin"):
                continue
            url = url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append((method, url, rule.endpoint))
    assert len(found) > 40, "the admin console and API should both be mapped"
    return found


@pytest.fixture
def world(app):
    """A user and a client that every refused request would otherwise act on."""
    target = make_user(app, "target@example.com")
    enroll_totp(app, target.id)
    make_client(app, "rp")
    with app.app_context():
        secret_hash = Client.by_client_id("rp").secret_hash
    return {"secret_hash": secret_hash}


def assert_nothing_changed(app, world):
    target = user_row(app, "target@example.com")
    assert target is not None and target.disabled_at is None and target.activated_at is not None
    assert not target.is_admin and target.roles == []
    with app.app_context():
        rp = db.session.scalar(db.select(Client).where(Client.client_id == "rp"))
        assert rp is not None and not rp.disabled and rp.secret_hash == world["secret_hash"]
    changes = [e.event for e in events(app) if e.event.startswith(("user.", "client.", "users."))]
    assert changes == []


def _send(browser, method, url, token=None, csrf=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if url.startswith(API):
        body = {"json": {}} if method in ("POST", "PATCH") else {}
        return browser.open(url, method=method, headers=headers, **body)
    data = {"csrf_token": csrf} if csrf and method == "POST" else None
    return browser.open(url, method=method, data=data, headers=headers)


def test_anonymous_is_sent_to_sign_in_or_refused_everywhere(app, client, world):
    csrf = csrf_of(client.get("/signin"))
    for method, url, _endpoint in admin_routes(app):
        response = _send(client, method, url, csrf=csrf)
        if url.startswith(API):
            assert response.status_code == 401, (method, url)
            assert response.mimetype == "application/problem+json"
            assert response.headers["WWW-Authenticate"].startswith("Bearer ")
        else:
            assert response.status_code == 302, (method, url, response.status_code)
            assert response.location.startswith("/signin"), (method, url)
    assert_nothing_changed(app, world)


def test_a_signed_in_user_who_is_not_an_admin_gets_403_everywhere(app, client, world):
    user = make_user(app, "agent@example.com")
    sign_in(client, user.email, enroll_totp(app, user.id))
    csrf = csrf_of(client.get("/account/security"))
    for method, url, _endpoint in admin_routes(app):
        response = _send(client, method, url, csrf=csrf)
        # The API ignores cookies: without a bearer token it is 401.
        expected = 401 if url.startswith(API) else 403
        assert response.status_code == expected, (method, url, response.status_code)
    assert_nothing_changed(app, world)
    assert any(e.event == "admin.access_denied" for e in events(app))


def test_an_admin_whose_second_factor_is_older_than_15_minutes_must_step_up(
    app, client, clock, world
):
    signed_in_admin(app, client)
    assert client.get("/admin").status_code == 200
    clock.advance(minutes=16)
    csrf = csrf_of(client.get("/account/security"))
    for method, url, _endpoint in admin_routes(app):
        if url.startswith(API):
            continue
        response = _send(client, method, url, csrf=csrf)
        assert response.status_code == 302, (method, url)
        assert response.location.startswith("/account/verify?next="), (method, url)
    assert_nothing_changed(app, world)
    assert "next=/admin/clients" in client.get("/admin/clients").location


def test_api_tokens_without_the_admin_scope_are_refused_everywhere(app, client, world):
    # A client allowed only ordinary scopes gets a token without idp:admin.
    _, secret = make_client(app, "reporting", redirect_uris=[], scopes=["profile"])
    weak = client_credentials(client, "reporting", secret or "", "profile")
    # A token with the scope, whose client has since lost it.
    demoted = admin_token(app, client, "demoted")
    with app.app_context():
        db.session.scalar(db.select(Client).where(Client.client_id == "demoted")).scopes = [
            "openid"
        ]
        db.session.commit()
    # A user's token (not client credentials) that somehow carries the scope.
    user_token = "a-user-access-token-carrying-idp-admin"
    target = user_row(app, "target@example.com")
    with app.app_context():
        db.session.add(
            Token(
                client_id="rp",
                user_id=target.id,
                family="f",
                access_token_hash=sha256_hex(user_token),
                scope="openid idp:admin",
                issued_at=now(),
                expires_in=3600,
            )
        )
        db.session.commit()
    for method, url, _endpoint in admin_routes(app):
        if not url.startswith(API):
            continue
        for token in (weak, demoted, user_token):
            response = _send(client, method, url, token=token)
            assert response.status_code == 403, (method, url, response.status_code)
            assert response.mimetype == "application/problem+json"
            assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
        response = _send(client, method, url, token="not-a-token")
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert_nothing_changed(app, world)


def test_a_revoked_or_expired_admin_token_stops_working(app, client, clock, world):
    token = admin_token(app, client)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/clients", headers=headers).status_code == 200
    clock.advance(seconds=3601)
    assert client.get(f"{API}/clients", headers=headers).status_code == 401
    fresh = admin_token(app, client, "ops-bot-2")
    with app.app_context():
        Token.revoke_where(Token.client_id == "ops-bot-2")
        db.session.commit()
    assert (
        client.get(f"{API}/clients", headers={"Authorization": f"Bearer {fresh}"}).status_code
        == 401
    )


def test_console_forms_refuse_a_post_without_csrf_token_and_change_nothing(app, client, world):
    signed_in_admin(app, client)
    for method, url, _endpoint in admin_routes(app):
        if url.startswith(API) or method != "POST":
            continue
        response = client.post(url, data={"name": "x", "email": "new@example.com"})
        assert response.status_code == 400, (url, response.status_code)
        assert "This form expired" in response.text
    assert_nothing_changed(app, world)


def test_after_stepping_up_the_admin_is_back_on_the_page_they_asked_for(app, client, clock):
    admin = make_user(app, "root@example.com", is_admin=True)
    secret = enroll_totp(app, admin.id)
    sign_in(client, admin.email, secret)
    clock.advance(minutes=16)
    step_up = client.get("/admin/clients?q=x").location
    page = client.get(step_up)
    done = client.post(
        step_up, data={"csrf_token": csrf_of(page), "code": totp_now(secret, app=app)}
    )
    assert done.status_code == 302 and done.location == "/admin/clients?q=x"
    assert client.get(done.location).status_code == 200
