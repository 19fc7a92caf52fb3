"""Passkey autofill (WebAuthn conditional mediation) on the sign-in page, in a real browser."""

from __future__ import annotations

from sqlalchemy import select

from idp.extensions import db
from idp.models.audit_event import AuditEvent
from tests.browser.test_webauthn import (
    RP,
    answer_app_code,
    enroll_key_at_first_sign_in,
    rp_client,
    type_password,
    wait_for_rp,
)
from tests.support import enroll_totp, make_user


def test_choosing_a_passkey_in_the_email_field_signs_in_without_a_password(live_app, browser):
    app, issuer = live_app
    make_user(app)
    secret = rp_client(app, issuer).secret
    enroll_key_at_first_sign_in(browser, RP(issuer, "rp", secret), app)
    browser.context.clear_cookies()
    rp = RP(issuer, "rp", secret)
    page = browser.page
    page.goto(rp.authorize_url())
    # The virtual authenticator answers the conditional request with its resident passkey,
    # as a person picking it from the email field's suggestions would: nothing typed, no button.
    claims = rp.finish(wait_for_rp(page))
    assert "pwd" not in claims["amr"], "no password was typed"
    assert "user" in claims["amr"] and "mfa" in claims["amr"]
    assert claims["acr"] == "urn:idp:acr:phr"
    with app.app_context():
        signed_in = db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == "passkey.signed_in")
        ).all()
        assert len(signed_in) == 1 and signed_in[0].client_id == "rp"


def test_the_password_form_works_while_autofill_waits(live_app, browser):
    """No passkey in this browser: the conditional request waits; the password form still goes."""
    app, issuer = live_app
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    rp = rp_client(app, issuer)
    page = browser.page
    page.goto(rp.authorize_url())
    page.wait_for_load_state("networkidle")  # the options fetched, the conditional request open
    type_password(page)
    answer_app_code(page, totp_secret, app=app)
    claims = rp.finish(wait_for_rp(page))
    assert "pwd" in claims["amr"] and "otp" in claims["amr"]


def test_the_sign_in_page_works_without_javascript(live_app, chromium):
    app, issuer = live_app
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    rp = rp_client(app, issuer)
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(rp.authorize_url())
        # The passkey button needs script: it stays hidden; email and password do the job.
        assert not page.locator("button[data-webauthn=passkey]").is_visible()
        assert page.locator("#email").get_attribute("autocomplete") == "username webauthn"
        type_password(page)
        answer_app_code(page, totp_secret, app=app)
        claims = rp.finish(wait_for_rp(page))
    finally:
        context.close()
    assert "pwd" in claims["amr"] and "otp" in claims["amr"]
