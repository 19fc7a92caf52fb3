"""Mandatory enrollment at first sign-in: choose, set up, and receive recovery codes."""

from __future__ import annotations

import re

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response  # what redirect() returns

from idp import audit
from idp.authn import email_code, factor_list, policy, recovery_code, totp
from idp.authn.errors import FactorError
from idp.authn.factors import Factor
from idp.authn.inputs import enrolled_factors
from idp.authn.policy import Change
from idp.authn.state import Step, VerifiedFactor
from idp.clock import now
from idp.extensions import db, limiter
from idp.web import browser, current, device_trust, gating
from idp.web.forms import ConfirmForm, TotpEnrollForm, refusal
from idp.web.gating import Gate
from idp.web.guards import stepped_up
from idp.web.signin import after_step, bp, elsewhere
from idp.web.signin.email_form import handle_email_code
from idp.web.signin.passkey_offer import offer_admits

# What the enrollment page can set up.
AVAILABLE = (Factor.WEBAUTHN, Factor.TOTP, Factor.EMAIL_CODE)


def _enroll_gate(method: Factor | None = None) -> tuple[Gate, bool]:
    """At first sign-in the policy must ask for enrollment; later, a recent step-up suffices."""
    gate = gating.check(request.args.get("rid"))
    if gate.user is None:
        return gate, False
    if gate.decision.step is Step.ENROLL:
        return gate, method is None or method in gate.decision.methods
    # The passkey offer, accepted right after a second factor, adds a key like the account does.
    offered = method is Factor.WEBAUTHN and offer_admits(gate)
    adding = gate.rid is None and gate.decision.step is Step.DONE and method is not None
    if not (adding or offered) or not stepped_up():
        return gate, False
    change = Change.ADD_WEBAUTHN if method is Factor.WEBAUTHN else Change.ADD_OTHER
    strong = policy.needs_strong_step_up(change, enrolled_factors(gate.user))
    return gate, not strong or stepped_up(strong=True)


@bp.get("/enroll")
def enroll() -> Response | str:
    """Set up a second way to sign in: the methods the policy allows."""
    gate, ok = _enroll_gate()
    if not ok:
        return elsewhere(gate)
    methods = [m for m in gate.decision.methods if m in AVAILABLE]
    return render_template("signin/enroll.html", view=gate.view, methods=methods, rid=gate.rid)


def finish_enrollment(
    gate: Gate,
    factor: Factor,
    name: str,
    *,
    remember: bool,
    verified: VerifiedFactor | None = None,
) -> Response:
    """Record the factor in the session; the first one brings recovery codes."""
    at, rid = now(), gate.rid
    assert gate.user is not None
    browser.close_passkey_offer()
    # Bound now, not proven: never strong, never this sign-in's phishing-resistant proof.
    browser.add_factor(verified or VerifiedFactor(factor=factor, at=at, new=True))
    device_trust.after_second_factor(
        gate.user, gate.view.client if gate.view else None, remember=remember
    )
    secret = current.settings().secret_key
    codes = factor_list.enrolled(gate.user, factor, name, at=at, app_secret=secret)
    if codes:
        browser.keep_recovery_codes(
            recovery_code.seal_for_display(gate.user.id, codes, app_secret=secret)
        )
        return redirect(url_for("signin.recovery_codes", rid=rid))
    return after_step(rid)


@bp.route("/enroll/totp", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def enroll_totp() -> Response | tuple[str, int] | str:
    """Scan the QR code (or type the key), then confirm a current code."""
    gate, ok = _enroll_gate(Factor.TOTP)
    if not ok or gate.user is None:
        return elsewhere(gate)
    settings = current.settings()
    pending = browser.totp_secret()
    secret = totp.unseal(pending, app_secret=settings.secret_key) if pending else totp.new_secret()
    if not pending:
        browser.keep_totp_secret(totp.seal(secret, app_secret=settings.secret_key))
    form = TotpEnrollForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            totp.enroll(
                gate.user.id,
                name=form.name.data or "",
                secret=secret,
                code=form.code.data or "",
                now=now(),
                app_secret=settings.secret_key,
            )
        except FactorError as exc:
            db.session.rollback()
            audit.record("factor.enroll_failed", user_id=gate.user.id, factor="totp")
            error, status = refusal(exc)
        else:
            browser.forget_totp_secret()
            return finish_enrollment(
                gate, Factor.TOTP, form.name.data or "", remember=bool(form.remember.data)
            )
    uri = totp.provisioning_uri(secret, account=gate.user.email, issuer=settings.product_name)
    return render_template(
        "signin/enroll_totp.html",
        view=gate.view,
        form=form,
        qr=totp.qr_svg(uri),
        key=totp.grouped(secret),
        uri=uri,
        error=error,
        rid=gate.rid,
        remember_days=gating.remember_days(gate.view.client if gate.view else None),
    ), status


@bp.route("/enroll/email", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def enroll_email() -> Response | tuple[str, int] | str:
    """Turn on codes by email: prove the inbox receives them."""
    gate, ok = _enroll_gate(Factor.EMAIL_CODE)
    if not ok or gate.user is None:
        return elsewhere(gate)
    user = gate.user
    state = handle_email_code(user, "enroll")
    if state.accepted:
        email_code.turn_on(user, at=now())
        return finish_enrollment(
            gate, Factor.EMAIL_CODE, "Codes by email", remember=bool(state.form.remember.data)
        )
    return render_template(
        "signin/enroll_email.html",
        view=gate.view,
        form=state.form,
        resend=state.resend,
        user=user,
        error=state.error,
        code_waiting=state.code_waiting,
        rid=gate.rid,
        remember_days=gating.remember_days(gate.view.client if gate.view else None),
    ), state.status


@bp.route("/recovery-codes", methods=["GET", "POST"])
def recovery_codes() -> Response | str:
    """Show the new recovery codes once; continuing forgets them."""
    rid = request.args.get("rid")
    user = current.user()
    sealed = browser.recovery_codes()
    secret = current.settings().secret_key
    codes = recovery_code.unseal_for_display(sealed, user.id, app_secret=secret) if user else []
    if not codes:
        return after_step(rid)
    form = ConfirmForm()
    if form.validate_on_submit():
        browser.forget_recovery_codes()
        return after_step(rid)
    if request.args.get("format") == "txt" and user is not None:
        # Named for the service and the account: a file found months later says what it is for.
        product = current.settings().product_name
        download = Response(
            render_template("signin/recovery_codes.txt", codes=codes, email=user.email),
            mimetype="text/plain",
            headers={"Cache-Control": "no-store"},
        )
        download.headers.set(
            "Content-Disposition",
            "attachment",
            filename=recovery_codes_filename(product, user.email),
        )
        return download
    return render_template(
        "signin/recovery_codes.html", codes=codes, form=form, rid=rid, view=gating.pending_view(rid)
    )


def recovery_codes_filename(product: str, email: str) -> str:
    """`<product>-recovery-codes-<email>.txt`, kept to characters every file system accepts."""
    return f"{_file_safe(product) or 'idp'}-recovery-codes-{_file_safe(email)}.txt"


def _file_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]+", "-", text).strip("-.")
