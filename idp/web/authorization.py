"""The authorization request's journey: validate, ask the policy, then sign in, consent or answer.

The policy (idp/authn/policy.py) decides every step, `prompt=none` included; this module only
turns its answer into a redirect: to a sign-in page, to the consent page, or to the client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response  # what redirect() returns

from idp.authn import policy
from idp.authn.state import Decision, Requirements, Step
from idp.errors import SignInExpired
from idp.models.client import Client
from idp.models.consent import Consent
from idp.models.user import User
from idp.oidc.grants import SignedIn
from idp.oidc.protocol import OAuth2Error, scope_to_list
from idp.oidc.requirements import build_requirements, hinted_subject, parse_prompt
from idp.web import browser, current, device_trust, gating, new_browser, oauth_errors


def resume(rid: str) -> Response:
    """Continue a kept request after a sign-in step or consent: GET /authorize/resume, and
    the step's own POST, which answers with where the request goes next (one hop less)."""
    entry = browser.pending_request(rid)
    if entry is None:
        raise SignInExpired()
    params, started_at = entry
    if browser.is_carried(rid) and browser.signed_in_user_id() is not None:
        # Signed in now: the session row keeps the request (consent and flags need it there).
        rid = browser.save_pending(params, started_at)
    return proceed(params, started_at=started_at, rid=rid)


def proceed(params: dict[str, Any] | None, *, started_at: datetime, rid: str | None) -> Response:
    """Validate the request, then sign in, consent, or answer the client: whichever is due.

    `params` None means the live HTTP request (first visit); a dict is a kept request.
    """
    srv = current.server()
    user = current.user()
    try:
        grant = srv.get_consent_grant(request=params, end_user=user)
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            return oauth_errors.error_redirect(error)
        sent = request.values if params is None else params
        raise oauth_errors.unredirectable(error, sent) from error
    data = grant.request.payload.data
    try:
        requirements, claims = build_requirements(data, started_at=started_at)
        hinted = hinted_subject(data, srv.keys, current.settings().issuer)
    except OAuth2Error as error:
        error.redirect_uri = grant.redirect_uri
        error.state = data.get("state")
        return oauth_errors.error_redirect(error)
    if rid and browser.pending_flag(rid, "denied"):
        browser.drop_pending(rid)
        return srv.create_authorization_response(
            request=grant.request, grant_user=None, grant=grant
        )
    if rid is None and hinted is not None and user is not None and user.subject != hinted:
        # OIDC Core 3.1.2.1: the hint names someone else; this session can't answer for them.
        # (After the sign-in it leads to, whoever signed in is the answer.)
        user = None
    decision = _decide(
        user, grant, requirements, consent_prompt="consent" in parse_prompt(data), rid=rid
    )
    if decision.step is Step.ERROR:
        return oauth_errors.refuse(grant, decision.error or "interaction_required")
    if decision.step is not Step.DONE:
        rid = rid or browser.save_pending(_flatten(params, data), started_at)
        return redirect(url_for(gating.STEP_ENDPOINTS[decision.step], rid=rid))
    assert user is not None and decision.authentication is not None
    if decision.used_trusted_device:
        device_trust.skipped(user, grant.client)
    if rid:
        browser.drop_pending(rid)
    new_browser.after_sign_in(user, grant.client)
    signed_in = SignedIn(
        user=user, authentication=decision.authentication, sid=browser.session_sid(), claims=claims
    )
    return srv.create_authorization_response(
        request=grant.request, grant_user=signed_in, grant=grant
    )


def _decide(
    user: User | None,
    grant: Any,
    requirements: Requirements,
    *,
    consent_prompt: bool,
    rid: str | None,
) -> Decision:
    """The policy's answer for this request, consent included."""
    decision = gating.decide(user, grant.client, requirements)
    if user is None:
        return decision
    if decision.step in (Step.SECOND_FACTOR, Step.ERROR):
        device_trust.note_if_copied(user, grant.client)
    if decision.step is not Step.DONE:
        return decision
    consented = bool(rid and browser.pending_flag(rid, "consented"))
    needed = not consented and _consent_needed(
        user, grant.client, grant.request.scope, asked=consent_prompt
    )
    return policy.consent_step(decision, needed=needed, prompt_none=requirements.prompt_none)


def _consent_needed(user: User, client: Client, scope: str, *, asked: bool) -> bool:
    # First-party clients skip consent (DESIGN.md "Policies"); prompt=consent always asks.
    if client.first_party:
        return False
    if asked:
        return True
    consent = Consent.find(user.id, client.client_id)
    return consent is None or not consent.covers(scope_to_list(scope))


def _flatten(params: dict[str, Any] | None, data: Any) -> dict[str, str]:
    if params is not None:
        return dict(params)
    return {k: data.get(k) for k in data}
