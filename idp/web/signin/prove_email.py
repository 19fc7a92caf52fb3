"""Accounts never activated prove their email before anything can be enrolled (DESIGN rule 2)."""

from __future__ import annotations

from flask import render_template, request, url_for
from werkzeug.wrappers import Response  # what redirect() returns

from idp.authn import email_code
from idp.authn.state import Step
from idp.clock import now
from idp.extensions import limiter
from idp.web import browser, current, gating
from idp.web.signin import after_step, bp, elsewhere
from idp.web.signin.email_form import handle_email_code


@bp.route("/prove-email", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def prove_email() -> Response | tuple[str, int] | str:
    """Send a code to the account's address and check it."""
    gate = gating.check(request.args.get("rid"))
    if gate.user is None or gate.decision.step is not Step.PROVE_EMAIL:
        return elsewhere(gate)
    user = gate.user
    state = handle_email_code(user, "activate")
    if state.accepted:
        browser.confirm_mailbox(now())
        email_code.activate(user, at=now())
        return after_step(gate.rid)
    return render_template(
        "signin/prove_email.html",
        form=state.form,
        resend=state.resend,
        view=gate.view,
        user=user,
        error=state.error,
        code_waiting=state.code_waiting,
        dev=current.settings().is_development,
        outbox_url=url_for("dev.outbox") if current.settings().is_development else None,
    ), state.status
