"""The admin console on a phone (390 px wide, real Chromium): the page that shows a new client's
secret and a user's page fit the screen without sideways scrolling, the secret wraps and its copy
button works, and a destructive action's confirmation opens without JavaScript tricks."""

from __future__ import annotations

from typing import Any

from tests.support import PASSWORD, enroll_totp, make_user, totp_now

PHONE = {"width": 390, "height": 844}


def _no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >"
        " document.documentElement.clientWidth + 1).map(e => e.tagName + '.' + e.className + '#'"
        " + e.id + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {page.url}: {wide}"


def _sign_in_as_admin(page: Any, app: Any, issuer: str) -> Any:
    admin = make_user(
        app, "operations.administrator.on.call@claims-department.example.com", is_admin=True
    )
    secret = enroll_totp(app, admin.id)
    page.goto(f"{issuer}/admin")
    page.fill("#email", admin.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/signin/verify**")
    page.fill("#code", totp_now(secret, app=app))
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return admin


def test_a_new_clients_secret_and_a_user_page_fit_a_phone(live_app, browser):
    app, issuer = live_app
    page = browser.page
    page.set_viewport_size(PHONE)
    browser.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=issuer)
    admin = _sign_in_as_admin(page, app, issuer)

    page.goto(f"{issuer}/admin/clients/new")
    _no_sideways_scroll(page)
    page.fill("#client_id", "claims-portal-for-independent-agents-and-policyholders-2026")
    page.fill("#name", "Claims Portal")
    page.fill("#redirect_uris", "https://claims.example/callback")
    page.click("form button[type=submit]:has-text('Register')")
    page.wait_for_selector("#client-secret")
    secret = page.inner_text("#client-secret")
    assert len(secret) >= 40
    _no_sideways_scroll(page)
    box = page.eval_on_selector("#client-secret", "e => e.getBoundingClientRect().right")
    assert box <= PHONE["width"]
    page.click("button[data-copy='#client-secret']")
    page.wait_for_selector("#copy-status:has-text('Secret copied.')")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.goto(f"{issuer}/admin/users/{admin.subject}")
    page.wait_for_selector("#sessions")
    _no_sideways_scroll(page)
    page.click("details.confirm summary:has-text('Sign out everywhere')")
    page.wait_for_selector("text=Yes, sign them out everywhere")
    _no_sideways_scroll(page)
    page.click("details.confirm summary:has-text('Delete user')")
    _no_sideways_scroll(page)
