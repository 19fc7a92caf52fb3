"""The authorization request's journey: ask the policy, sign in, consent, issue the code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, current_app, redirect, request, url_for

from idp import audit
from idp.authn import policy, trusted_device
from idp.authn.inputs import account_policy, client_policy, global_policy, user_state
from idp.authn.password import Passwords
from idp.authn.state import Decision, Requirements, Step
from idp.clock import now
from idp.config import Settings
from idp.errors import BadAuthorizationRequest
from idp.extensions import db
from idp.models.client import Client
from idp.models.consent import Consent
from idp.models.trusted_device import TrustedDevice
from idp.models.user import User
from idp.oidc.grants import SignedIn
from idp.oidc.protocol import OAuth2Error, add_params_to_uri, scope_to_list
from idp.oidc.requirements import build_requirements, hinted_subject, parse_prompt
from idp.oidc.server import Server
from idp.web import session as browser

# Where each step of the hosted sign-in lives.
STEP_ENDPOINTS = {
    Step.PASSWORD: "signin.password",
    Step.PROVE_EMAIL: "signin.prove_email",
    Step.ENROLL: "signin.enroll",
    Step.SECOND_FACTOR: "signin.second_factor_view",
}


def server() -> Server:
    """This app's authorization server."""
    return current_app.extensions["idp.oidc"]


def settings() -> Settings:
    """This app's settings."""
    return current_app.extensions["idp.settings"]


def current_user() -> User | None:
    """The user this browser's session verified the password of, if still active."""
    uid = browser.signed_in_user_id()
    user = db.session.get(User, uid) if uid else None
    return user if user is not None and user.is_active else None


def trusted_device_for(user: User | None, client: Client | None) -> TrustedDevice | None:
    """The trust record for (user, client, this browser), if any."""
    if user is None or client is None:
        return None
    return trusted_device.find(user.id, client.client_id, browser.device_token(), at=now())


def decide(user: User | None, client: Client | None, requirements: Requirements) -> Decision:
    """Ask the sign-in policy what this request (or, without a client, the account) needs."""
    record = trusted_device_for(user, client)
    agent = trusted_device.agent_summary(browser.browser_agent())
    return policy.next_step(
        user=user_state(user) if user else None,
        session=browser.session_state() if user else None,
        device=trusted_device.as_state(record, agent=agent),
        client=client_policy(client, settings()) if client else account_policy(settings()),
        requirements=requirements,
        policy=global_policy(settings()),
        now=now(),
    )


def remember_days(client: Client | None) -> int | None:
    """N for the "Do not challenge me on this device for N days" box; None hides it."""
    if client is None:
        return None
    return policy.remember_days_offered(client_policy(client, settings()))


def after_second_factor(user: User, client: Client | None, *, remember: bool) -> None:
    """Trust this device for the client when asked, or note a passed re-verification."""
    days = remember_days(client)
    if client is None or days is None:
        return
    token = browser.ensure_device_token() if remember else browser.device_token()
    if token is None:
        return
    at = now()
    record = trusted_device.after_challenge(
        user.id,
        client.client_id,
        token,
        remember=remember,
        days=days,
        agent=trusted_device.agent_summary(browser.browser_agent()),
        ip=request.remote_addr or "",
        at=at,
    )
    if record is not None and record.created_at == at:
        audit.record(
            "trusted_device.created",
            user_id=user.id,
            client_id=client.client_id,
            device_id=record.id,
            expires_at=record.expires_at.isoformat(),
        )


@dataclass(frozen=True, slots=True)
class Gate:
    """Where a sign-in page stands: the user, the policy's answer, the request served."""

    user: User | None
    decision: Decision
    rid: str | None
    view: PendingView | None


def gate(rid: str | None) -> Gate:
    """The policy's answer for the kept request `rid`, or for the account pages."""
    user = current_user()
    view = pending_view(rid)
    requirements = Requirements()
    if view is not None:
        params, started_at = browser.pending_request(rid) or ({}, now())
        try:
            requirements, _ = build_requirements(params, started_at=started_at)
        except OAuth2Error:
            requirements = Requirements()
    decision = decide(user, view.client if view else None, requirements)
    return Gate(user=user, decision=decision, rid=rid if view else None, view=view)


@dataclass(frozen=True, slots=True)
class PendingView:
    """What a sign-in page shows about the request in progress."""

    rid: str
    client: Client
    login_hint: str
    display: str


def pending_view(rid: str | None) -> PendingView | None:
    """The request a sign-in page serves, or None when visited directly."""
    entry = browser.pending_request(rid)
    if entry is None:
        return None
    params, _ = entry
    client = server().clients.get(params.get("client_id", ""))
    if client is None:
        return None
    return PendingView(
        rid=rid or "",
        client=client,
        login_hint=params.get("login_hint", "")[:320],
        display=params.get("display", "page"),
    )


def error_redirect(error: OAuth2Error) -> Response:
    """The OAuth error sent back to the client, with `iss` (RFC 9207) when redirecting."""
    response = server().handle_error_response(None, error)
    if response.location:
        response.location = add_params_to_uri(response.location, {"iss": settings().issuer})
    return response


def _consent_needed(user: User, client: Client, scope: str, prompts: set[str]) -> bool:
    if client.first_party:
        return False
    if "consent" in prompts:
        return True
    consent = Consent.find(user.id, client.client_id)
    return consent is None or not consent.covers(scope_to_list(scope))


def proceed(params: dict[str, Any] | None, *, started_at: datetime, rid: str | None) -> Response:
    """Validate the request, then sign in, consent, or answer the client: whichever is due.

    `params` None means the live HTTP request (first visit); a dict is a kept request.
    """
    srv = server()
    user = current_user()
    try:
        grant = srv.get_consent_grant(request=params, end_user=user)
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            return error_redirect(error)
        raise BadAuthorizationRequest(_unredirectable_message(error)) from error
    data = grant.request.payload.data
    try:
        requirements, claims = build_requirements(data, started_at=started_at)
        hinted = hinted_subject(data, srv.keys, settings().issuer)
    except OAuth2Error as error:
        error.redirect_uri = grant.redirect_uri
        error.state = data.get("state")
        return error_redirect(error)
    if rid and browser.pending_flag(rid, "denied"):
        browser.drop_pending(rid)
        return srv.create_authorization_response(
            request=grant.request, grant_user=None, grant=grant
        )
    if rid is None and hinted is not None and user is not None and user.subject != hinted:
        # OIDC Core 3.1.2.1: the hint names someone else; this session can't answer for them.
        # (After the sign-in it leads to, whoever signed in is the answer.)
        user = None
    decision = decide(user, grant.client, requirements)
    if user is not None and decision.step in (Step.SECOND_FACTOR, Step.ERROR):
        _audit_agent_mismatch(user, grant.client)
    prompts = parse_prompt(data)
    if decision.step is Step.ERROR or (decision.step is not Step.DONE and "none" in prompts):
        return _refuse(grant, decision.error or "interaction_required")
    if decision.step is not Step.DONE:
        rid = rid or browser.save_pending(_flatten(params, data), started_at)
        return redirect(url_for(STEP_ENDPOINTS[decision.step], rid=rid))
    assert user is not None and decision.authentication is not None
    if _consent_needed(user, grant.client, grant.request.scope, prompts) and not (
        rid and browser.pending_flag(rid, "consented")
    ):
        if "none" in prompts:
            return _refuse(grant, "consent_required")
        rid = rid or browser.save_pending(_flatten(params, data), started_at)
        return redirect(url_for("provider.consent", rid=rid))
    if decision.used_trusted_device:
        record = trusted_device_for(user, grant.client)
        if record is not None:
            # DESIGN.md rule 5: a skipped challenge is audited like a passed one.
            audit.record(
                "second_factor.skipped_trusted_device",
                user_id=user.id,
                client_id=grant.client.client_id,
                commit=False,
                device_id=record.id,
            )
            trusted_device.used(record, at=now())
    if rid:
        browser.drop_pending(rid)
    signed_in = SignedIn(
        user=user, authentication=decision.authentication, sid=browser.session_sid(), claims=claims
    )
    return srv.create_authorization_response(
        request=grant.request, grant_user=signed_in, grant=grant
    )


def _audit_agent_mismatch(user: User, client: Client) -> None:
    """Trust met in another browser or OS than it was given to: likely a copied device cookie."""
    record = trusted_device_for(user, client)
    agent = trusted_device.agent_summary(browser.browser_agent())
    state = trusted_device.as_state(record, agent=agent)
    if record is not None and state is not None and not state.agent_matches:
        audit.record(
            "trusted_device.agent_mismatch",
            user_id=user.id,
            client_id=client.client_id,
            device_id=record.id,
            trusted_agent=record.agent,
            agent=agent,
        )


def _refuse(grant: Any, error_code: str) -> Response:
    error = OAuth2Error(
        description=None, redirect_uri=grant.redirect_uri, state=grant.request.payload.state
    )
    error.error = error_code
    return error_redirect(error)


def _flatten(params: dict[str, Any] | None, data: Any) -> dict[str, str]:
    if params is not None:
        return dict(params)
    return {k: data.get(k) for k in data}


def _unredirectable_message(error: OAuth2Error) -> str:
    if error.error == "invalid_client":
        return "The application that sent you here is not registered with us."
    if error.error == "invalid_request" and "redirect" in (error.description or "").lower():
        return (
            "The application sent you here with a return address we don't recognise, "
            "so we can't send you back to it."
        )
    return "The application sent a sign-in request we can't process."


def passwords() -> Passwords:
    """This app's password hasher."""
    return current_app.extensions["idp.passwords"]
