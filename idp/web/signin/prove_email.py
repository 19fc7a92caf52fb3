"""Accounts never activated prove their email before anything can be enrolled (DESIGN rule 2)."""

from __future__ import annotations

from flask import Response, render_template, request, url_for

from idp import audit
from idp.authn import email_code
from idp.authn.errors import FactorError, ResendTooSoon
from idp.authn.state import Step
from idp.clock import now
from idp.extensions import db, limiter
from idp.web import flow
from idp.web.forms import CodeForm, ConfirmForm
from idp.web.signin import after_step, bp, elsewhere


@bp.route("/prove-email", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def prove_email() -> Response | tuple[str, int] | str:
    """Send a code to the account's address and check it."""
    gate = flow.gate(request.args.get("rid"))
    if gate.user is None or gate.decision.step is not Step.PROVE_EMAIL:
        return elsewhere(gate)
    user, at, secret = gate.user, now(), flow.settings().secret_key
    form, resend = CodeForm(), ConfirmForm(prefix="resend")
    error, status = None, 200
    if request.method == "POST" and resend.submit.data and resend.validate():
        try:
            email_code.send_code(user, "activate", now=at, app_secret=secret)
        except ResendTooSoon as exc:
            error, status = exc.message, 429
    elif request.method == "POST" and form.validate_on_submit():
        try:
            email_code.verify_code(
                user, "activate", form.code.data or "", now=at, app_secret=secret
            )
        except FactorError as exc:
            audit.record("email.activation_failed", user_id=user.id, reason=exc.code)
            error, status = exc.message, 400
        else:
            user.activated_at = at
            user.email_verified = True
            db.session.commit()
            audit.record("user.activated", user_id=user.id, via="email_code")
            return after_step(gate.rid)
    else:
        email_code.ensure_sent(user, "activate", now=at, app_secret=secret)
    return render_template(
        "signin/prove_email.html",
        form=form,
        resend=resend,
        view=gate.view,
        user=user,
        error=error,
        dev=flow.settings().is_development,
        outbox_url=url_for("dev.outbox") if flow.settings().is_development else None,
    ), status
