"""Forgot password: the link, then the second factor, then a new password."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, session, url_for

from idp import audit
from idp.authn import email_code, password_reset, second_factor
from idp.authn.errors import FactorError
from idp.authn.factors import Factor
from idp.authn.inputs import enrolled_factors
from idp.authn.password_policy import WeakPassword
from idp.clock import now
from idp.extensions import db, limiter
from idp.models.user import User
from idp.web import flow
from idp.web.forms import CodeForm, ForgotForm, NewPasswordForm
from idp.web.signin import bp

# The link already proved the mailbox: an email code is offered last.
TYPED = sorted(second_factor.TYPED_FACTORS, key=lambda f: f is Factor.EMAIL_CODE)
SENT = (
    "If an account exists for that address, we have sent it a link to reset the password. "
    "It works for 30 minutes."
)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit("5/minute", methods=["POST"])
def forgot() -> str:
    """Ask for a reset link; the answer never says whether the account exists."""
    form = ForgotForm()
    sent = False
    if form.validate_on_submit():
        # Recorded in request_reset's transaction: one commit whether or not the account exists.
        audit.record("password.reset_requested", email=(form.email.data or "")[:320], commit=False)
        password_reset.request_reset(
            form.email.data or "", now=now(), issuer=flow.settings().issuer
        )
        sent = True
    return render_template("signin/forgot.html", form=form, sent=sent, message=SENT)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
def reset(token: str) -> Response | tuple[str, int] | str:
    """Prove the second factor, then choose a new password (a reset never bypasses MFA)."""
    at = now()
    try:
        link = password_reset.open_reset(token, now=at)
    except password_reset.ResetLinkInvalid as exc:
        return render_template(
            "error.html", title="Link expired", message=exc.message, code=exc.code
        ), 400
    user = db.session.get(User, link.user_id)
    assert user is not None
    methods = [m for m in TYPED if m in enrolled_factors(user)]
    proven = not methods or session.get("reset_proven") == link.id
    error, status = None, 200
    if not proven:
        method = next((m for m in methods if m == request.args.get("method")), methods[0])
        form = CodeForm()
        if form.validate_on_submit():
            try:
                second_factor.verify(
                    user,
                    method,
                    form.code.data or "",
                    now=at,
                    app_secret=flow.settings().secret_key,
                )
            except FactorError as exc:
                audit.record(
                    "second_factor.failed",
                    user_id=user.id,
                    factor=str(method),
                    purpose="password_reset",
                    reason=exc.code,
                )
                error, status = exc.message, 400
            else:
                session["reset_proven"] = link.id
                audit.record(
                    "second_factor.verified",
                    user_id=user.id,
                    factor=str(method),
                    purpose="password_reset",
                )
                return redirect(url_for("signin.reset", token=token))
        elif method is Factor.EMAIL_CODE:
            email_code.ensure_sent(user, "signin", now=at, app_secret=flow.settings().secret_key)
        return render_template(
            "signin/reset_verify.html",
            form=form,
            method=str(method),
            others=[m for m in methods if m != method],
            token=token,
            error=error,
            user=user,
        ), status
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            password_reset.complete_reset(
                link, form.password.data or "", passwords=flow.passwords(), now=at
            )
        except WeakPassword as exc:
            error, status = f"Please choose a different password. {exc.reason}", 400
        except password_reset.ResetLinkInvalid as exc:
            error, status = exc.message, 400
        else:
            session.pop("reset_proven", None)
            audit.record("password.reset", user_id=user.id)
            flash("Your password was changed. Please sign in with it.", "notice")
            return redirect(url_for("signin.password"))
    return render_template("signin/reset_password.html", form=form, error=error), status
