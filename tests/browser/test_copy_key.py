"""The authenticator-app key's copy button, in a real browser (the script is static/copy.js)."""

from __future__ import annotations

from tests.browser.test_webauthn import rp_client, type_password
from tests.support import make_user


def test_the_copy_button_puts_the_key_without_spaces_on_the_clipboard(live_app, browser):
    app, issuer = live_app
    make_user(app)
    rp = rp_client(app, issuer)
    browser.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=issuer)
    page = browser.page
    page.goto(rp.authorize_url())
    type_password(page)
    page.wait_for_url("**/signin/enroll?**")
    page.click("text=Authenticator app")
    page.wait_for_url("**/signin/enroll/totp?**")
    assert page.evaluate("document.activeElement.id") == "code"

    page.click("button[data-copy]")
    page.wait_for_selector("#copy-status:has-text('Key copied.')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.inner_text("#totp-key").replace(" ", "")
    assert len(copied) >= 16
