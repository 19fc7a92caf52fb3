"""The browser's own time zone reaches the account page (static/time_zone.js), in Chromium."""

from __future__ import annotations

from idp.extensions import db
from idp.models.user import User
from tests.browser.test_webauthn import answer_app_code, type_password
from tests.support import enroll_totp, make_user


def test_times_follow_the_browsers_zone(live_app, chromium):
    app, issuer = live_app
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    context = chromium.new_context(timezone_id="America/New_York")
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{issuer}/signin")
        type_password(page)
        answer_app_code(page, totp_secret, app=app)
        page.wait_for_url("**/account/security**")
        assert "America/New_York time zone" in page.inner_text("#time-zone")
        assert " EST" in page.inner_text("#sessions")
        with app.app_context():
            assert db.session.get(User, user.id).time_zone == "America/New_York"

            # Saved elsewhere since (another trip): the account page puts this browser's back.
            db.session.get(User, user.id).time_zone = "Europe/Madrid"
            db.session.commit()
        page.reload()
        # (A selector, not wait_for_function: the pages' CSP forbids the eval it needs.)
        page.wait_for_selector("#time-zone[data-saved='America/New_York']")
        assert " EST" in page.inner_text("#sessions")
    finally:
        context.close()
