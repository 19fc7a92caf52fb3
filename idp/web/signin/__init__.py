"""The hosted sign-in: each POST verifies one thing, then the policy is asked again."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from werkzeug.wrappers import Response  # what redirect() returns

from idp.web import authorization, browser
from idp.web.gating import STEP_ENDPOINTS, Gate
from idp.web.guards import local_next

bp = Blueprint("signin", __name__, url_prefix="/signin")


def after_step(rid: str | None) -> Response:
    """Back to the app's request, answered here (the next page, consent, or the app with its
    code: no hop through /authorize/resume), or the guarded page the sign-in started from, or
    the account."""
    if rid and browser.pending_request(rid):
        return authorization.resume(rid)
    return redirect(after_step_url(rid))


def after_step_url(rid: str | None) -> str:
    """Where a step done by script (WebAuthn) sends the browser: the request's resume, or as
    after_step."""
    if rid and browser.pending_request(rid):
        return url_for("provider.resume", rid=rid)
    return browser.return_to() or url_for("account.home")


def signed_in_first_step(rid: str | None) -> None:
    """The first step passed outside an app's request: remember the guarded page's `next`."""
    if not (rid and browser.pending_request(rid)):
        browser.keep_return_to(local_next(""))


def elsewhere(gate: Gate) -> Response:
    """This page is not the step the policy asks for: go where it does."""
    endpoint = STEP_ENDPOINTS.get(gate.decision.step)
    if gate.rid is None and endpoint:
        return redirect(url_for(endpoint))
    return after_step(gate.rid)


from idp.web.signin import (  # noqa: E402, F401
    enroll,
    passkey_offer,
    password,
    prove_email,
    reset,
    second_factor,
    webauthn,
)
