"""The trusted-device side of a sign-in step: remember this browser, or note trust misused."""

from __future__ import annotations

from flask import request

from idp.authn import trusted_device
from idp.clock import now
from idp.models.client import Client
from idp.models.user import User
from idp.web import browser, gating


def after_second_factor(user: User, client: Client | None, *, remember: bool) -> None:
    """Trust this browser for the client when asked, or note a passed re-verification."""
    days = gating.remember_days(client)
    if client is None or days is None:
        return
    token = browser.ensure_device_token() if remember else browser.device_token()
    if token is None:
        return
    gating.forget_trusted_device_lookups()
    trusted_device.after_challenge(
        user.id,
        client.client_id,
        token,
        remember=remember,
        days=days,
        agent=gating.agent(),
        ip=request.remote_addr or "",
        at=now(),
    )


def note_if_copied(user: User, client: Client) -> None:
    """Audit trust met in another browser or OS than it was given to (a copied cookie)."""
    record = gating.trusted_device_for(user, client)
    agent = gating.agent()
    state = trusted_device.as_state(record, agent=agent)
    if record is not None and state is not None and not state.agent_matches:
        trusted_device.note_agent_mismatch(record, agent=agent)


def skipped(user: User, client: Client) -> None:
    """Rule 5 answered: the trusted device stood in for the second factor."""
    record = gating.trusted_device_for(user, client)
    if record is not None:
        trusted_device.used(record, at=now())
