"""Security keys and passkeys in a real browser (headless Chromium, CDP virtual authenticator)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.extensions import db
from idp.mail import outbox_messages
from idp.models.audit_event import AuditEvent
from idp.models.webauthn_credential import WebAuthnCredential
from tests.browser.conftest import RP_CALLBACK_PATH
from tests.support import (
    PASSWORD,
    code_in_mail,
    deliver_mail,
    enroll_totp,
    make_client,
    make_user,
    totp_now,
)


class RP:
    """The relying party: sends the browser to /authorize, redeems the code, checks the ID token."""

    def __init__(self, issuer: str, client_id: str, secret: str | None) -> None:
        self.issuer, self.client_id, self.secret = issuer, client_id, secret
        self.callback = issuer + RP_CALLBACK_PATH
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(8)

    def authorize_url(self, **extra: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.callback,
            "scope": "openid email",
            "state": "xyz",
            "nonce": self.nonce,
            "code_challenge": create_s256_code_challenge(self.verifier),
            "code_challenge_method": "S256",
            **extra,
        }
        return f"{self.issuer}/authorize?{urlencode(params)}"

    def finish(self, url: str) -> dict[str, Any]:
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert "code" in params, params
        response = requests.post(
            f"{self.issuer}/token",
            auth=(self.client_id, self.secret),
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": self.callback,
                "code_verifier": self.verifier,
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        keys = KeySet.import_key_set(requests.get(f"{self.issuer}/jwks.json", timeout=10).json())
        claims = dict(jwt.decode(response.json()["id_token"], keys).claims)
        assert claims["iss"] == self.issuer and claims["aud"] == self.client_id
        assert claims["nonce"] == self.nonce
        return claims


def type_password(page: Any, email: str = "ada@example.com") -> None:
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def answer_app_code(page: Any, secret: str, *, app: Any) -> None:
    """At the second step, type the authenticator app's current code and continue."""
    page.wait_for_url("**/signin/verify?**")
    page.fill("#code", totp_now(secret, app=app))
    page.click("button[type=submit]")


def wait_for_rp(page: Any) -> str:
    page.wait_for_url(f"**{RP_CALLBACK_PATH}?**")
    return page.url


def rp_client(app: Any, issuer: str, client_id: str = "rp", **fields: Any) -> RP:
    _, secret = make_client(app, client_id, redirect_uris=[issuer + RP_CALLBACK_PATH], **fields)
    return RP(issuer, client_id, secret)


def confirm_by_email(page: Any, app: Any) -> None:
    """A first key needs a code from the mailbox before the browser may create it."""
    assert "We sent a 6-digit code" in page.content()
    page.fill("#code", code_in_mail(app))
    page.click("button[type=submit] >> text=Continue")
    page.wait_for_selector("button[data-webauthn=register]")


def enroll_key_at_first_sign_in(browser, rp, app) -> dict[str, Any]:
    page = browser.page
    page.goto(rp.authorize_url())
    type_password(page)
    page.wait_for_url("**/signin/enroll?**")
    page.click("text=Security key or passkey")
    page.wait_for_url("**/signin/enroll/webauthn?**")
    confirm_by_email(page, app)
    page.fill("#key-name", "Laptop")
    page.click("button[data-webauthn=register]")
    page.wait_for_url("**/signin/recovery-codes**")
    page.click("button[type=submit]")
    return rp.finish(wait_for_rp(page))


def test_enroll_a_key_at_first_sign_in_then_sign_in_with_it(live_app, browser):
    app, issuer = live_app
    make_user(app)
    rp = rp_client(app, issuer)
    claims = enroll_key_at_first_sign_in(browser, rp, app)
    # Registered in this sign-in: bound, not yet the phishing-resistant proof of it.
    assert claims["acr"] == "urn:idp:acr:mfa"
    assert {"hwk", "swk"} & set(claims["amr"]) and "user" in claims["amr"]
    with app.app_context():
        [key] = db.session.scalars(select(WebAuthnCredential)).all()
        assert key.name == "Laptop" and key.user_verified

    # Sign out, then sign in again: password, then the key (autofill would offer the passkey).
    browser.context.clear_cookies()
    browser.without_passkey_autofill()
    page = browser.page
    rp = RP(issuer, "rp", rp.secret)
    page.goto(rp.authorize_url())
    type_password(page)
    page.wait_for_url("**/signin/verify?**")
    page.click("button[data-webauthn=authenticate]")
    claims = rp.finish(wait_for_rp(page))
    assert claims["acr"] == "urn:idp:acr:phr" and "pwd" in claims["amr"] and "mfa" in claims["amr"]


def test_passkey_sign_in_without_a_password(live_app, browser):
    app, issuer = live_app
    make_user(app)
    secret = rp_client(app, issuer).secret
    enroll_key_at_first_sign_in(browser, RP(issuer, "rp", secret), app)
    browser.context.clear_cookies()
    browser.without_passkey_autofill()  # the button, not the email field's suggestion
    rp = RP(issuer, "rp", secret)
    page = browser.page
    page.goto(rp.authorize_url())
    page.click("text=Sign in with a passkey")
    claims = rp.finish(wait_for_rp(page))
    assert "pwd" not in claims["amr"], "no password was typed"
    assert "user" in claims["amr"] and "mfa" in claims["amr"]
    assert claims["acr"] == "urn:idp:acr:phr"


def test_a_phishing_resistant_client_refuses_totp(live_app, browser):
    app, issuer = live_app
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    rp = rp_client(app, issuer, "bank", mfa_policy="phishing_resistant")
    page = browser.page
    page.goto(rp.authorize_url())
    type_password(page)
    # The app proves it's Ada before anything is enrolled; it does not satisfy the client.
    answer_app_code(page, totp_secret, app=app)
    page.wait_for_url("**/signin/enroll?**")
    assert "Authenticator app" not in page.content()
    page.click("text=Security key or passkey")
    page.wait_for_url("**/signin/enroll/webauthn?**")
    assert "This app needs a security key or passkey" in page.content()
    # Password + TOTP is phishable: the first key also needs the mailbox.
    assert not page.locator("button[data-webauthn=register]").is_visible()
    confirm_by_email(page, app)
    page.click("button[data-webauthn=register]")
    page.wait_for_url("**/signin/recovery-codes**")  # the first key brings recovery codes
    page.click("button[type=submit]")
    # The key registered now is not this sign-in's proof: the client gets an assertion.
    page.wait_for_url("**/signin/verify?**")
    assert "Do not challenge me" not in page.content(), "no remembered device for this client"
    page.click("button[data-webauthn=authenticate]")
    claims = rp.finish(wait_for_rp(page))
    assert claims["acr"] == "urn:idp:acr:phr"
    deliver_mail(app)
    with app.app_context():
        mails = [m.body for m in outbox_messages()]
    assert any("security key" in body.lower() and "added" in body.lower() for body in mails)


def test_a_cloned_key_whose_counter_goes_back_is_refused_and_audited(live_app, browser):
    app, issuer = live_app
    make_user(app)
    secret = rp_client(app, issuer).secret
    enroll_key_at_first_sign_in(browser, RP(issuer, "rp", secret), app)
    page = browser.page
    browser.context.clear_cookies()
    browser.without_passkey_autofill()
    rp = RP(issuer, "rp", secret)
    page.goto(rp.authorize_url())
    type_password(page)
    page.wait_for_url("**/signin/verify?**")
    page.click("button[data-webauthn=authenticate]")
    rp.finish(wait_for_rp(page))
    with app.app_context():
        stored = db.session.scalars(select(WebAuthnCredential)).one().sign_count
    assert stored >= 1

    [credential] = browser.credentials()
    browser.replace_credential({**credential, "signCount": 0})  # a copy made earlier
    browser.context.clear_cookies()
    page.goto(RP(issuer, "rp", secret).authorize_url())
    type_password(page)
    page.wait_for_url("**/signin/verify?**")
    page.click("button[data-webauthn=authenticate]")
    error = page.locator("[data-webauthn-error]")
    error.wait_for(state="visible")
    assert "could not be trusted" in error.inner_text()
    assert "/signin/verify" in page.url
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == "webauthn.possible_clone")
        ).all()
        assert len(events) == 1
