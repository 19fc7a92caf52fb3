"""A password alone never yields a code, whatever URL of the flow is visited next."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from idp.extensions import db
from idp.models.authorization_code import AuthorizationCode
from idp.models.totp_credential import TotpCredential
from tests.support import RelyingParty, SignInFlow, csrf_of, enroll_totp, make_client, make_user


def password_only_session(app, client):
    """Ada (who has an app) has typed her password, nothing more; returns the request id."""
    user = make_user(app)
    enroll_totp(app, user.id)
    _, secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    rid = flow.location.split("rid=")[1]
    flow.password()
    return user, rid


def codes_issued(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuthorizationCode))


def test_every_get_route_refuses_to_finish_with_only_a_password(app, client):
    _, rid = password_only_session(app, client)
    visited = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "provider.logout"):
            continue
        url = re.sub(r"<(?:\w+:)?rid>", rid, rule.rule)
        url = re.sub(r"<(?:\w+:)?\w+>", "1", url)
        for query in ("", f"?rid={rid}", f"?rid={rid}&method=totp"):
            response = client.get(url + query)
            visited += 1
            assert response.status_code < 500, url
            assert "code=" not in response.headers.get("Location", ""), url
    assert visited > 30
    assert codes_issued(app) == 0


def test_the_resume_url_sends_back_to_the_challenge(app, client):
    _, rid = password_only_session(app, client)
    response = client.get(f"/authorize/resume/{rid}")
    assert response.location.startswith("/signin/verify")


def test_a_password_alone_cannot_bind_a_new_authenticator(app, client):
    user, rid = password_only_session(app, client)
    for url in (f"/signin/enroll/totp?rid={rid}", "/signin/enroll/totp", "/signin/enroll/email"):
        page = client.get(url)
        assert page.status_code == 302, f"{url} offered enrollment with only a password"
        assert "/signin/verify" in page.location or "/authorize/resume/" in page.location
    response = client.post(f"/signin/enroll/totp?rid={rid}", data={"code": "123456"})
    assert response.status_code in (302, 400)
    with app.app_context():
        assert len(TotpCredential.of_user(user.id)) == 1


def test_account_pages_need_the_second_factor(app, client):
    password_only_session(app, client)
    for url in ("/account/security", "/account/verify", "/account/factors/add/totp"):
        response = client.get(url)
        assert response.status_code == 302 and "/signin/verify" in response.location, url


def test_consent_cannot_be_reached_without_the_second_factor(app, client):
    user = make_user(app)
    enroll_totp(app, user.id)
    make_client(app, "third", first_party=False)
    flow = SignInFlow(client, RelyingParty(client, client_id="third", secret=None))
    flow.start()
    rid = flow.location.split("rid=")[1]
    flow.password()
    page = client.get(f"/consent/{rid}")
    assert page.status_code == 302 and page.location == f"/authorize/resume/{rid}"
    token = csrf_of(client.get("/signin"))
    client.post(f"/consent/{rid}", data={"csrf_token": token, "allow": "Allow"})
    assert "code=" not in client.get(f"/authorize/resume/{rid}").headers.get("Location", "")
    assert codes_issued(app) == 0
