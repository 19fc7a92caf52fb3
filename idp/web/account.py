"""The signed-in user's security page: factors, recovery codes, password."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response  # what redirect() returns

from idp import audit, local_time
from idp.authn import (
    factor_list,
    known_browser,
    password,
    policy,
    recovery_code,
    sessions,
    trusted_device,
)
from idp.authn.factors import Factor
from idp.authn.inputs import enrolled_factors
from idp.authn.password_policy import WeakPassword
from idp.authn.policy import Change, ResetPath
from idp.authn.recovery_code import LOW_WATERMARK
from idp.authn.second_factor import Attempt, Purpose
from idp.authn.sessions import BrowserSession
from idp.authn.sign_out import sign_out_everywhere as end_sessions_everywhere
from idp.clock import now
from idp.errors import IdpError, Unavailable, error_page, unavailable_response
from idp.extensions import limiter
from idp.manage import users
from idp.models.user import User
from idp.oidc import consent
from idp.web import browser, current, factor_prompt, i18n
from idp.web.forms import ConfirmForm, PasswordChangeForm, RenameForm
from idp.web.guards import (
    local_next,
    recent_auth_required,
    signin_required,
    strong_step_up_redirect,
)
from idp.web.scopes import describe

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.errorhandler(IdpError)
def refused(error: IdpError) -> Response | tuple[str, int]:
    """The account surface's one error handler: a refused change (a POST) is told on the
    security page it was made from; anything else is the error page, an outage a 503."""
    if isinstance(error, Unavailable):
        return unavailable_response()
    if request.method == "POST" and error.status < 500:
        flash(error.message, "error")
        return redirect(url_for("account.security"))
    return error_page(error.title, error.message, error.status, error.code)


@bp.get("")
def home() -> Response:
    """The account's landing page is its security page."""
    return redirect(url_for("account.security"))


@bp.get("/security")
@signin_required
def security() -> str:
    """Factors, recovery codes, devices, sessions, connected apps, password."""
    if request.args.get("confirmed"):
        # Back from the step-up a button's POST asked for: the change is one more press away.
        flash(_("Thanks, it's you. Please press the button again to make the change."), "notice")
    return _security_page()


def _security_page(**extra: Any) -> str:
    """The security page; `extra` replaces a form or names a field's error."""
    user = g.user
    left = factor_list.recovery_codes_left(user)
    devices = trusted_device.devices_by_client(user.id, at=now())
    context: dict[str, Any] = {
        "devices": devices,
        "sessions": signed_in_sessions(user),
        "apps": [(app, describe(app.scopes)) for app in consent.connected_apps(user.id)],
        "user": user,
        "rows": factor_list.factor_rows(user),
        "recovery_left": left,
        "low": left <= LOW_WATERMARK,
        "rename_form": RenameForm(),
        "confirm": ConfirmForm(),
        "password_form": PasswordChangeForm(),
        "password_error": None,
        "password_error_field": None,
        "email_enrolled": user.email_factor_at is not None,
        "time_zone": local_time.valid_zone(user.time_zone) or "UTC",
        # Nudge: with codes by email only, the mailbox alone is the second factor.
        "mailbox_only": policy.reset_path(enrolled_factors(user)) is ResetPath.COOLING_OFF,
    }
    return render_template("account/security.html", **(context | extra))


@bp.post("/time-zone")
@signin_required
@limiter.limit("30/minute")
def time_zone() -> tuple[str, int]:
    """The browser's IANA time zone (JSON, CSRF header), for times shown on pages and in mail."""
    body = request.get_json(silent=True)
    name = body.get("time_zone") if isinstance(body, dict) else None
    if local_time.valid_zone(name) is None:
        return "", 400
    users.set_time_zone(g.user, name)
    return "", 204


@bp.route("/verify", methods=["GET", "POST"])
@signin_required
@limiter.limit("30/minute", methods=["POST"])
def reverify() -> Response | tuple[str, int] | str:
    """Step-up: confirm a second factor again before changing security settings.

    `?strong=1` offers only what counts as strong (a key, or a recovery code).
    """
    user, strong = g.user, request.args.get("strong") == "1"
    nxt = local_next(url_for("account.security"))
    methods = policy.step_up_methods(enrolled_factors(user), strong=strong)
    attempt = Attempt(
        user=user, purpose=Purpose.STEP_UP, session_started_at=browser.session_started_at()
    )
    prompt = factor_prompt.ask(
        attempt,
        methods,
        method_url=lambda m: url_for("account.reverify", method=m, next=nxt, strong=strong or None),
        webauthn_urls=(
            url_for("signin.authenticate_options"),
            url_for("signin.authenticate", next=nxt),
        ),
    )
    if prompt is None:
        flash(
            _("You have no security key, passkey or recovery code to confirm this with."), "error"
        )
        return redirect(url_for("account.security"))
    if prompt.verified is not None:
        browser.add_factor(prompt.verified.factor)
        if strong and not policy.is_strong(prompt.verified.factor):
            flash(
                _(
                    "Recovery codes made since you signed in don't count here. "
                    "Please use a security key, a passkey or an older recovery code."
                ),
                "error",
            )
        return redirect(nxt)
    return render_template(
        "account/reverify.html", prompt=prompt, strong=strong, user=user
    ), prompt.status


def _factor(kind: str) -> Factor:
    """The factor a URL names; an unknown one is reported like a factor the user doesn't have."""
    try:
        return Factor(kind)
    except ValueError:
        raise factor_list.UnknownFactor() from None


@bp.post("/factors/<kind>/<int:factor_id>/rename")
@signin_required
def rename(kind: str, factor_id: int) -> Response:
    """Rename an authenticator app."""
    form = RenameForm()
    if form.validate_on_submit():
        factor_list.rename(g.user, _factor(kind), factor_id, form.name.data or "")
        flash(_("Renamed."), "notice")
    return redirect(url_for("account.security"))


@bp.post("/factors/<kind>/<int:factor_id>/remove")
@recent_auth_required
def remove(kind: str, factor_id: int) -> Response:
    """Remove a factor (never the last one) and tell the user by email."""
    change = Change.REMOVE_WEBAUTHN if kind == Factor.WEBAUTHN else Change.REMOVE_OTHER
    # A stolen phone's TOTP must not be enough to remove the key that protects the account.
    step_up = strong_step_up_redirect(change, enrolled_factors(g.user))
    if step_up is not None:
        return step_up
    if ConfirmForm().validate_on_submit():
        row = factor_list.remove(g.user, _factor(kind), factor_id, at=now())
        flash(_("Removed %(name)s.", name=row.name), "notice")
    return redirect(url_for("account.security"))


@bp.route("/factors/add/<kind>", methods=["GET"])
@recent_auth_required
def add(kind: str) -> Response:
    """Adding a factor reuses the enrollment pages (allowed after a recent step-up)."""
    endpoints = {
        "totp": "signin.enroll_totp",
        "email_code": "signin.enroll_email",
        "webauthn": "signin.enroll_webauthn",
    }
    if kind not in endpoints:
        return redirect(url_for("account.security"))
    change = Change.ADD_WEBAUTHN if kind == Factor.WEBAUTHN else Change.ADD_OTHER
    step_up = strong_step_up_redirect(change, enrolled_factors(g.user))
    return step_up or redirect(url_for(endpoints[kind]))


@bp.post("/recovery-codes")
@recent_auth_required
def regenerate_codes() -> Response:
    """A new set of recovery codes; the old set stops working."""
    step_up = strong_step_up_redirect(Change.NEW_RECOVERY_CODES, enrolled_factors(g.user))
    if step_up is not None:
        return step_up
    if ConfirmForm().validate_on_submit():
        secret = current.settings().secret_key
        codes = recovery_code.regenerate(g.user, now=now(), app_secret=secret)
        browser.keep_recovery_codes(
            recovery_code.seal_for_display(g.user.id, codes, app_secret=secret)
        )
        return redirect(url_for("signin.recovery_codes"))
    return redirect(url_for("account.security"))


@bp.post("/password")
@signin_required
@limiter.limit("10/minute")
def change_password() -> Response | tuple[str, int]:
    """Change the password: the current one is required; other sessions end."""
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        field = "new" if form.current.data else "current"
        return _password_refused(form, _("Please fill in both password fields."), field)
    try:
        password.change(
            g.user,
            form.current.data or "",
            form.new.data or "",
            passwords=current.passwords(),
            now=now(),
            keep_session=browser.current_session_hash(),
        )
    # Field errors are said beside their field; other refusals go to `refused`.
    except password.WrongCurrentPassword as exc:
        return _password_refused(form, exc.message, "current")
    except WeakPassword as exc:
        return _password_refused(form, exc.message, "new")
    flash(_("Your password was changed. You were signed out everywhere else."), "notice")
    return redirect(url_for("account.security"))


def _password_refused(form: PasswordChangeForm, message: str, field: str) -> tuple[str, int]:
    """The page again, the error beside the field it is about, that field focused."""
    page = _security_page(
        password_form=form, password_error=str(message), password_error_field=field
    )
    return page, 400


@bp.post("/devices/<int:device_id>/forget")
@signin_required
def forget_device(device_id: int) -> Response:
    """Stop trusting one device: it is challenged again next time."""
    if ConfirmForm().validate_on_submit() and trusted_device.forget(g.user.id, device_id, at=now()):
        flash(_("We will ask for your second step on that device again."), "notice")
    return redirect(url_for("account.security"))


@bp.post("/devices/forget-all")
@signin_required
def forget_all_devices() -> Response:
    """Stop trusting every device."""
    if ConfirmForm().validate_on_submit():
        trusted_device.forget_all(g.user.id, at=now())
        flash(_("We will ask for your second step on all your devices again."), "notice")
    return redirect(url_for("account.security"))


@bp.post("/apps/<client_id>/remove")
@signin_required
def remove_app(client_id: str) -> Response:
    """Withdraw consent to one app (CSRF-checked): its tokens stop working, it asks again."""
    if ConfirmForm().validate_on_submit() and consent.revoke(g.user.id, client_id, at=now()):
        flash(_("That app no longer has access to your account."), "notice")
    return redirect(url_for("account.security"))


def signed_in_sessions(user: User) -> list[BrowserSession]:
    """Where the user is signed in, this browser marked as current."""
    return users.browser_sessions(
        user, current_hash=browser.current_session_hash(), language=i18n.language()
    )


@bp.post("/sessions/<sid>/end")
@signin_required
def end_session(sid: str) -> Response:
    """Sign out of one browser (CSRF-checked); the apps that session served are told."""
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("account.security"))
    if sid == browser.session_sid():
        browser.end_sign_in()
        audit.record("session.signed_out", user_id=g.user.id, from_account=True)
        return redirect(url_for("signin.password"))
    if sessions.end_one(g.user.id, sid, reason="signed_out_elsewhere", at=now()):
        audit.record("session.ended", user_id=g.user.id, sid=sid)
        flash(_("Signed out of that browser."), "notice")
    return redirect(url_for("account.security"))


@bp.post("/sign-out-everywhere")
@signin_required
def sign_out_everywhere() -> Response:
    """End every session of this user, this one included, their tokens and all device trust."""
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("account.security"))
    end_sessions_everywhere(g.user.id, at=now(), reason="signed_out_everywhere")
    browser.end_sign_in()
    return redirect(url_for("signin.password"))


@bp.route("/not-me/<token>", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
def not_me(token: str) -> tuple[str, int] | str:
    """The new-browser email's "This wasn't me" link: asks first (mail scanners follow links),
    then signs out everywhere, revokes tokens and trust, and starts a password reset."""
    try:
        known_browser.open_notice(token, at=now())
    except known_browser.NoticeLinkInvalid as exc:
        return render_template("account/not_me.html", done=False, invalid=exc.message), 400
    if request.method == "GET" or not ConfirmForm().validate_on_submit():
        return render_template("account/not_me.html", done=False, invalid=None, form=ConfirmForm())
    try:
        known_browser.disown(token, at=now(), locale=i18n.language())
    except known_browser.NoticeLinkInvalid as exc:
        return render_template("account/not_me.html", done=False, invalid=exc.message), 400
    browser.end_sign_in(reason="not_me")
    return render_template("account/not_me.html", done=True, invalid=None)
