"""The second-factor step: the method used last first, "Try another way" for the rest."""

from __future__ import annotations

from flask import render_template, request, url_for
from werkzeug.wrappers import Response  # what redirect() returns

from idp import audit
from idp.authn.second_factor import Attempt, Purpose
from idp.authn.state import Step
from idp.extensions import limiter
from idp.web import browser, device_trust, factor_prompt, gating
from idp.web.signin import bp, elsewhere
from idp.web.signin.passkey_offer import offer_or_continue

# Wrong codes allowed in one browser session before it must start over.
SESSION_MAX_FAILURES = 5


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def second_factor() -> Response | tuple[str, int] | str:
    """Ask for the chosen method's code and verify it."""
    gate = gating.check(request.args.get("rid"))
    if gate.user is None or gate.decision.step is not Step.SECOND_FACTOR:
        return elsewhere(gate)
    user, rid = gate.user, gate.rid
    client = gate.view.client if gate.view else None
    attempt = Attempt(
        user=user,
        purpose=Purpose.SIGN_IN,
        session_started_at=browser.session_started_at(),
        client_id=client.client_id if client else None,
    )
    prompt = factor_prompt.ask(
        attempt,
        gate.decision.methods,
        method_url=lambda m: url_for("signin.second_factor", rid=rid, method=m),
        webauthn_urls=(
            url_for("signin.authenticate_options", rid=rid),
            url_for("signin.authenticate", rid=rid),
        ),
        remember_days=gating.remember_days(client),
    )
    if prompt is None:
        return elsewhere(gate)
    if prompt.verified is not None:
        browser.forget_code_failures()
        browser.add_factor(prompt.verified.factor)
        device_trust.after_second_factor(user, client, remember=bool(prompt.form.remember.data))
        return offer_or_continue(gate, prompt.verified.factor.factor)
    if prompt.error_code is not None and prompt.error_code not in factor_prompt.NOT_GUESSES:
        failures = browser.count_code_failure()
        if failures >= SESSION_MAX_FAILURES:
            return _ended_after_failures(rid, user.id, attempt.client_id, prompt.status)
    return render_template(
        "signin/second_factor.html",
        view=gate.view,
        prompt=prompt,
        rid=rid,
    ), prompt.status


def _ended_after_failures(
    rid: str | None, user_id: int, client_id: str | None, status: int
) -> tuple[str, int]:
    """Say the sign-in ended and why, and offer to start again (the form's session is gone)."""
    kept = browser.pending_request(rid)
    browser.end_sign_in()
    audit.record("session.ended_after_failures", user_id=user_id, client_id=client_id)
    # The app's request outlives the session: carried in the URL, the new start resumes it.
    again = browser.save_pending(*kept) if kept else None
    return render_template(
        "signin/sign_in_ended.html",
        failures=SESSION_MAX_FAILURES,
        restart_url=url_for("signin.password", rid=again),
        view=gating.pending_view(again),
    ), status
