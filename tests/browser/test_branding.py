"""A branded sign-in in a real browser: the logo loads, the colours apply, the CSP is never hit."""

from __future__ import annotations

from idp.extensions import db
from idp.manage import client_logos
from idp.models.client import Client
from tests.browser.test_webauthn import rp_client
from tests.web.test_branding import RED


def test_the_clients_logo_and_colour_show_with_no_csp_violation(live_app, browser):
    app, issuer = live_app
    rp = rp_client(app, issuer, client_id="acme", brand_color="#ffeb3b")
    with app.app_context():
        client = db.session.scalar(db.select(Client).where(Client.client_id == "acme"))
        client_logos.store(client, RED)
        db.session.commit()
    page = browser.page
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    page.goto(rp.authorize_url())
    page.wait_for_selector("#email")
    logo = page.locator(".brand-logo img")
    assert logo.evaluate("img => img.complete && img.naturalWidth") == 2
    colours = page.evaluate(
        """() => {
        const b = getComputedStyle(document.querySelector('button[type=submit]'));
        return [b.backgroundColor, b.color];
    }"""
    )
    assert colours == ["rgb(255, 235, 59)", "rgb(0, 0, 0)"]  # dark text on yellow
    assert violations == []
