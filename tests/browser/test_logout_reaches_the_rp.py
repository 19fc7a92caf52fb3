"""A real browser signs out at the provider; the relying party it used is signed out too."""

from __future__ import annotations

from typing import Any

from idp.oidc import backchannel
from tests.conftest import LiveServer
from tests.oidc.rp_app import running_rp
from tests.oidc.test_backchannel_logout import register, rp_state
from tests.support import PASSWORD, enroll_totp, make_user, totp_now


def test_signing_out_at_the_provider_signs_the_user_out_of_the_rp(
    live_server: LiveServer, browser: Any
) -> None:
    app = live_server.app
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    with running_rp(rp_state(live_server, "portal")) as portal:
        register(app, "portal", portal)
        page = browser.page
        page.goto(f"{portal.url}/login")
        page.fill("#email", "ada@example.com")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/signin/verify?**")
        page.fill("#code", totp_now(secret, app=app))
        page.click("form button[type=submit]")
        page.wait_for_url(f"{portal.url}/me")
        assert "signed in as" in page.content()

        page.goto(f"{live_server.url}/logout")
        page.click("button[name=confirm]")
        page.wait_for_selector("text=You are signed out")
        with app.app_context():  # `idp worker`: the sign-out page never waits for the RP
            told = backchannel.drain(
                app.extensions["idp.settings"], app.extensions["idp.oidc"].keys
            )
        assert told.sent == 1

        page.goto(f"{portal.url}/me")
        assert "signed out" in page.content(), "the RP ended its session on the logout token"
        [claims] = portal.received
        assert claims["aud"] == "portal" and "nonce" not in claims
