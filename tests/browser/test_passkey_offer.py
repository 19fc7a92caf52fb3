"""The passkey offer after a code, in a real browser: create the key, then reach the app."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.authn import recovery_code
from idp.clock import now
from idp.extensions import db
from idp.models.webauthn_credential import WebAuthnCredential
from tests.browser.test_webauthn import (
    answer_app_code,
    confirm_by_email,
    rp_client,
    type_password,
    wait_for_rp,
)
from tests.support import enroll_totp, make_user


@pytest.fixture
def overrides():
    return {"passkey_offer": True}


def test_create_a_passkey_from_the_offer_after_an_app_code(live_app, browser):
    app, issuer = live_app
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    with app.app_context():  # set up as at enrollment: the app, then recovery codes
        recovery_code.issue(user.id, now=now(), app_secret=app.config["SECRET_KEY"])
        db.session.commit()
    rp = rp_client(app, issuer)
    browser.without_passkey_autofill()
    page = browser.page
    page.goto(rp.authorize_url())
    type_password(page)
    answer_app_code(page, totp_secret, app=app)
    page.wait_for_url("**/signin/passkey-offer?**")
    assert "Sign in faster with a passkey" in page.content()
    page.click("button[value=create]")
    page.wait_for_url("**/signin/enroll/webauthn?**")
    # The first key: the mailbox confirms it (DESIGN), as on the account page.
    confirm_by_email(page, app)
    assert not page.locator("#remember").count(), "the code step already asked about this device"
    page.fill("#key-name", "Laptop")
    page.click("button[data-webauthn=register]")
    claims = rp.finish(wait_for_rp(page))
    # Made in this sign-in: bound, not its phishing-resistant proof.
    assert claims["acr"] == "urn:idp:acr:mfa"
    assert "otp" in claims["amr"] and "pwd" in claims["amr"]
    with app.app_context():
        [key] = db.session.scalars(select(WebAuthnCredential)).all()
        assert key.name == "Laptop" and key.user_id == user.id
    assert len(browser.credentials()) == 1
