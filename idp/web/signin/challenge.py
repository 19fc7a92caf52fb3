"""The second-factor challenge: the method used last first, "Try another way" for the rest."""

from __future__ import annotations

from flask import Response, render_template, request, session

from idp import audit, mail
from idp.authn import email_code, second_factor
from idp.authn.errors import CodeExpired, FactorError, ResendTooSoon, SecondFactorLocked
from idp.authn.factors import Factor
from idp.authn.recovery_code import LOW_WATERMARK
from idp.authn.state import Step
from idp.clock import now
from idp.extensions import limiter
from idp.web import flow
from idp.web import session as browser
from idp.web.forms import CodeForm, ConfirmForm
from idp.web.signin import after_step, bp, elsewhere

TYPED = second_factor.TYPED_FACTORS
# Wrong codes allowed in one browser session before it must start over.
SESSION_MAX_FAILURES = 5
LABELS = {
    Factor.TOTP: "Authenticator app",
    Factor.EMAIL_CODE: "Code by email",
    Factor.RECOVERY_CODE: "Recovery code",
    Factor.WEBAUTHN: "Security key or passkey",
}


def _chosen(methods: tuple[Factor, ...]) -> Factor | None:
    wanted = request.args.get("method")
    offered = [m for m in methods if m in (*TYPED, Factor.WEBAUTHN)]
    if wanted:
        return next((m for m in offered if m == wanted), None)
    return offered[0] if offered else None


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def second_factor_view() -> Response | tuple[str, int] | str:
    """Ask for the chosen method's code and verify it."""
    gate = flow.gate(request.args.get("rid"))
    if gate.user is None or gate.decision.step is not Step.SECOND_FACTOR:
        return elsewhere(gate)
    user, at, secret = gate.user, now(), flow.settings().secret_key
    method = _chosen(gate.decision.methods)
    if method is None:
        return elsewhere(gate)
    form, resend = CodeForm(), ConfirmForm(prefix="resend")
    client_id = gate.view.client.client_id if gate.view else None
    error, status = None, 200
    if request.method == "POST" and resend.submit.data and resend.validate():
        try:
            email_code.send_code(user, "signin", now=at, app_secret=secret)
        except ResendTooSoon as exc:
            error, status = exc.message, 429
    elif method is not Factor.WEBAUTHN and form.validate_on_submit():
        try:
            verified = second_factor.verify(
                user, method, form.code.data or "", now=at, app_secret=secret
            )
        except SecondFactorLocked as exc:
            audit.record(
                "second_factor.locked", user_id=user.id, client_id=client_id, factor=str(method)
            )
            error, status = exc.message, 429
        except FactorError as exc:
            audit.record(
                "second_factor.failed",
                user_id=user.id,
                client_id=client_id,
                factor=str(method),
                reason=exc.code,
            )
            failures = session.get("mfa_failures", 0) + (not isinstance(exc, CodeExpired))
            session["mfa_failures"] = failures
            if failures >= SESSION_MAX_FAILURES:
                browser.end_sign_in()
                audit.record("session.ended_after_failures", user_id=user.id, client_id=client_id)
            error, status = exc.message, 400
        else:
            session.pop("mfa_failures", None)
            browser.add_factor(verified.factor)
            flow.after_second_factor(
                user, gate.view.client if gate.view else None, remember=bool(form.remember.data)
            )
            audit.record(
                "second_factor.verified", user_id=user.id, client_id=client_id, factor=str(method)
            )
            if verified.recovery_codes_left is not None:
                audit.record(
                    "recovery_code.used",
                    user_id=user.id,
                    client_id=client_id,
                    remaining=verified.recovery_codes_left,
                )
                mail.send(user.email, "recovery_code_used", remaining=verified.recovery_codes_left)
            return after_step(gate.rid)
    elif method is Factor.EMAIL_CODE:
        email_code.ensure_sent(user, "signin", now=at, app_secret=secret)
    others = [(m, LABELS[m]) for m in gate.decision.methods if m != method]
    return render_template(
        "signin/challenge.html",
        view=gate.view,
        form=form,
        resend=resend,
        method=str(method),
        label=LABELS[method],
        others=others,
        error=error,
        rid=gate.rid,
        user=user,
        low_watermark=LOW_WATERMARK,
        remember_days=flow.remember_days(gate.view.client if gate.view else None),
    ), status
