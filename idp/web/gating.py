"""Where a sign-in page stands: the request it serves and what the policy asks for next.

Every hosted page asks `check(rid)` and renders the policy's answer; none decides on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g

from idp.authn import policy, trusted_device
from idp.authn.inputs import account_policy, client_policy, global_policy, user_state
from idp.authn.state import Decision, Requirements, Step
from idp.clock import now
from idp.models.client import Client
from idp.models.trusted_device import TrustedDevice
from idp.models.user import User
from idp.oidc.protocol import OAuth2Error
from idp.oidc.requirements import build_requirements
from idp.web import browser, current

# Where each step of the hosted sign-in lives.
STEP_ENDPOINTS = {
    Step.PASSWORD: "signin.password",
    Step.PROVE_EMAIL: "signin.prove_email",
    Step.ENROLL: "signin.enroll",
    Step.SECOND_FACTOR: "signin.second_factor",
    Step.CONSENT: "provider.consent",
}


@dataclass(frozen=True, slots=True)
class PendingView:
    """What a sign-in page shows about the request in progress."""

    rid: str
    client: Client
    login_hint: str
    display: str


@dataclass(frozen=True, slots=True)
class Gate:
    """The user, the policy's answer, and the request served (None on the account pages) with
    what it asks of the sign-in (prompt, max_age, acr: the policy's input)."""

    user: User | None
    decision: Decision
    rid: str | None
    view: PendingView | None
    requirements: Requirements


def pending_view(rid: str | None) -> PendingView | None:
    """The request a sign-in page serves, or None when visited directly."""
    entry = browser.pending_request(rid)
    if entry is None:
        return None
    params, _ = entry
    # The per-worker client cache (oidc/clients): every sign-in page reads the client.
    client = current.server().clients.get(params.get("client_id", ""))
    if client is None:
        return None
    return PendingView(
        rid=rid or "",
        client=client,
        login_hint=params.get("login_hint", "")[:320],
        display=params.get("display", "page"),
    )


def check(rid: str | None) -> Gate:
    """The policy's answer for the kept request `rid`, or for the account pages."""
    user = current.user()
    view = pending_view(rid)
    requirements = Requirements()
    if view is not None:
        params, started_at = browser.pending_request(rid) or ({}, now())
        try:
            requirements, _ = build_requirements(params, started_at=started_at)
        except OAuth2Error:
            requirements = Requirements()
    decision = decide(user, view.client if view else None, requirements)
    return Gate(
        user=user,
        decision=decision,
        rid=rid if view else None,
        view=view,
        requirements=requirements,
    )


def decide(user: User | None, client: Client | None, requirements: Requirements) -> Decision:
    """Ask the sign-in policy what this request (or, without a client, the account) needs."""
    record = trusted_device_for(user, client)
    settings = current.settings()
    return policy.next_step(
        user=user_state(user) if user else None,
        session=browser.session_state() if user else None,
        device=trusted_device.as_state(record, agent=agent()),
        client=client_policy(client, settings) if client else account_policy(settings),
        requirements=requirements,
        policy=global_policy(settings),
        now=now(),
    )


def trusted_device_for(user: User | None, client: Client | None) -> TrustedDevice | None:
    """The trust record for (user, client, this browser), if any; read once per request (the
    policy, the copied-cookie check and the skip's audit all ask)."""
    if user is None or client is None:
        return None
    key = (user.id, client.client_id, browser.device_token())
    known: dict[tuple[int, str, str | None], TrustedDevice | None] = g.setdefault(
        "idp_trusted_devices", {}
    )
    if key not in known:
        known[key] = trusted_device.find(user.id, client.client_id, key[2], at=now())
    return known[key]


def device_trusted(user: User | None, client: Client | None) -> bool:
    """True if this browser passes the trust decision for (user, client): the device cookie's
    hash, the client, expiry and the browser-and-OS check (policy.device_trusted). Without a
    client (the account's own sign-in) no trust applies: it is per client (DESIGN.md)."""
    if client is None:
        return False
    if user is None:
        # An email with no account costs the same lookup (no account has id 0): how long a
        # wrong password takes must not tell whether the account exists.
        trusted_device.find(0, client.client_id, browser.device_token(), at=now())
        return False
    settings = current.settings()
    return policy.device_trusted(
        trusted_device.as_state(trusted_device_for(user, client), agent=agent()),
        client=client_policy(client, settings),
        policy=global_policy(settings),
        now=now(),
    )


def forget_trusted_device_lookups() -> None:
    """Trust was just given or renewed in this request: the next question reads it afresh."""
    g.pop("idp_trusted_devices", None)


def agent() -> str:
    """This browser's browser-and-OS summary, as trusted devices record it."""
    return trusted_device.agent_summary(browser.browser_agent())


def remember_days(client: Client | None) -> int | None:
    """N for the "Do not challenge me on this device for N days" box; None hides it."""
    if client is None:
        return None
    return policy.remember_days_offered(client_policy(client, current.settings()))
