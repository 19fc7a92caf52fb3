"""Forgot password: the link, then the second factor, then a new password."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response  # what redirect() returns

from idp import audit, local_time
from idp.authn import password_reset, policy, second_factor, webauthn
from idp.authn.factors import Factor
from idp.authn.inputs import enrolled_factors
from idp.authn.password_policy import WeakPassword
from idp.authn.policy import ResetPath
from idp.authn.second_factor import Attempt, Purpose
from idp.clock import now
from idp.extensions import db, limiter
from idp.models.password_reset import PasswordReset
from idp.models.user import User
from idp.web import browser, current, factor_prompt, i18n
from idp.web.branding import sign_in_client_id
from idp.web.forms import ConfirmForm, ForgotForm, NewPasswordForm, refusal
from idp.web.signin import bp
from idp.web.signin import webauthn as webauthn_views

SENT = _l(
    "If an account exists for that address, we have sent it a link to reset the password. "
    "It works for 30 minutes."
)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit("5/minute", methods=["POST"])
def forgot() -> str:
    """Ask for a reset link; the answer never says whether the account exists."""
    form = ForgotForm()
    sent = False
    rid = _rid()
    if form.validate_on_submit():
        # Recorded in request_reset's transaction: one commit whether or not the account exists.
        audit.record("password.reset_requested", email=(form.email.data or "")[:320], commit=False)
        password_reset.request_reset(
            form.email.data or "",
            now=now(),
            rid=rid,
            locale=i18n.language(),
            client_id=sign_in_client_id(),
        )
        sent = True
    return render_template("signin/forgot.html", form=form, sent=sent, message=str(SENT), rid=rid)


def _rid() -> str | None:
    """The sign-in in progress this reset started from, while it can still be resumed."""
    rid = request.args.get("rid")
    return rid if rid and browser.pending_request(rid) else None


def _open(token: str) -> tuple[PasswordReset, User]:
    """The live reset link and its user; a dead link is ResetLinkInvalid, which the error
    handler renders ("Link expired", 400)."""
    link = password_reset.open_reset(token, now=now())
    user = db.session.get(User, link.user_id)
    assert user is not None
    return link, user


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
def reset(token: str) -> Response | tuple[str, int] | str:
    """Prove a factor outside the mailbox, then choose a new password (never bypasses MFA)."""
    link, user = _open(token)
    rid = _rid()
    enrolled = enrolled_factors(user)
    path = policy.reset_path(enrolled)
    if path is ResetPath.COOLING_OFF:
        hours = current.settings().reset_cooling_off_hours
        ready_at = password_reset.start_cooling_off(
            link, user, now=now(), wait=timedelta(hours=hours), issuer=current.settings().issuer
        )
        if now() < ready_at:
            audit.record("password.reset_cooling_off", user_id=user.id, until=ready_at.isoformat())
            # Not signed in yet: the time in the zone saved on the account being reset.
            when = local_time.written(ready_at, zone=user.time_zone, locale=i18n.language())
            return render_template("signin/reset_waiting.html", ready_at=when, hours=hours)
    elif path is ResetPath.FACTOR and not browser.reset_proven(link.id):
        return _prove(token, user, policy.reset_methods(enrolled), link.id, rid)
    return _new_password(link, user, rid)


def _prove(
    token: str, user: User, methods: tuple[Factor, ...], link_id: int, rid: str | None
) -> Response | tuple[str, int]:
    """The one factor prompt, with only what does not live in the mailbox."""
    attempt = Attempt(user=user, purpose=Purpose.PASSWORD_RESET)
    prompt = factor_prompt.ask(
        attempt,
        methods,
        method_url=lambda m: url_for("signin.reset", token=token, method=m, rid=rid),
        webauthn_urls=(
            url_for("signin.reset_webauthn_options", token=token),
            url_for("signin.reset_webauthn", token=token, rid=rid),
        ),
    )
    assert prompt is not None
    if prompt.verified is not None:
        browser.prove_reset(link_id)
        return redirect(url_for("signin.reset", token=token, rid=rid))
    return render_template("signin/reset_verify.html", prompt=prompt), prompt.status


def _new_password(link: PasswordReset, user: User, rid: str | None) -> tuple[str, int] | Response:
    form = NewPasswordForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            password_reset.complete_reset(
                link, form.password.data or "", passwords=current.passwords(), now=now()
            )
        except WeakPassword as exc:
            error, status = refusal(exc)
        else:
            browser.forget_reset_proof()
            audit.record("password.reset", user_id=user.id)
            flash(_("Your password was changed. Please sign in with it."), "notice")
            # Back into the sign-in the user started from, so it ends in the app.
            return redirect(url_for("signin.password", rid=rid))
    return render_template("signin/reset_password.html", form=form, error=error), status


@bp.post("/reset/<token>/webauthn/options")
@limiter.limit("30/minute")
def reset_webauthn_options(token: str) -> Response | tuple[Response, int]:
    """Request options for the user the reset link names, when a key may prove the reset."""
    try:
        _, user = _open(token)
    except password_reset.ResetLinkInvalid:
        return jsonify(error="This reset link has expired."), 400  # shown by the key's script
    if Factor.WEBAUTHN not in policy.reset_methods(enrolled_factors(user)):
        return jsonify(error="No security key on this account."), 403
    return webauthn_views.options_for(user, "reset")


@bp.post("/reset/<token>/webauthn")
@limiter.limit("30/minute")
def reset_webauthn(token: str) -> Response | tuple[Response, int]:
    """The key proved the reset: the new password may be chosen."""
    try:
        link, user = _open(token)
    except password_reset.ResetLinkInvalid:
        return jsonify(error="This reset link has expired."), 400  # shown by the key's script
    asserted = webauthn_views.verify_assertion(user, "reset", None)
    if not isinstance(asserted, webauthn.Asserted):
        return asserted
    second_factor.asserted(Attempt(user=user, purpose=Purpose.PASSWORD_RESET), asserted, now=now())
    browser.prove_reset(link.id)
    return jsonify(redirect=url_for("signin.reset", token=token, rid=_rid()))


@bp.route("/reset/cancel/<token>", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
def cancel_reset(token: str) -> tuple[str, int] | str:
    """ "This wasn't me": the waiting reset is cancelled."""
    link = password_reset.open_cancel(token, now=now())
    form = ConfirmForm()
    if form.validate_on_submit():
        password_reset.cancel_reset(link, now=now())
        audit.record("password.reset_cancelled", user_id=link.user_id)
        return render_template("signin/reset_cancelled.html")
    return render_template("signin/reset_cancel.html", form=form)
