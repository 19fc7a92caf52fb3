"""After a completed sign-in: remember the browser, and tell the user when it is a new one."""

from __future__ import annotations

from flask import request

from idp.authn import known_browser, trusted_device
from idp.clock import now
from idp.models.client import Client
from idp.models.user import User
from idp.web import browser, current


def after_sign_in(user: User, client: Client | None) -> None:
    """Once per session: a browser new to this user (not on their very first sign-in) is
    announced by email with a "This wasn't me" link."""
    if browser.browser_noted() or not browser.session_sid():
        return
    settings = current.settings()
    known_browser.recognise(
        user,
        browser.ensure_device_token(),
        place=known_browser.SignInPlace(
            app=client.name if client else f"{settings.product_name} account",
            agent=trusted_device.agent_summary(browser.browser_agent()),
            ip=request.remote_addr or "",
        ),
        at=now(),
        issuer=settings.issuer,
        link_hours=settings.new_browser_link_hours,
    )
    browser.note_browser()
