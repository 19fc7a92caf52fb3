"""Step one: email and password."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from werkzeug.wrappers import Response  # what redirect() returns

from idp import audit
from idp.authn.inputs import policy_for
from idp.authn.password import InvalidCredentials, SignInThrottled
from idp.authn.policy import Throttled
from idp.client_address import client_bucket
from idp.clock import now
from idp.extensions import limiter
from idp.manage import users
from idp.web import browser, current, gating
from idp.web.forms import PasswordForm
from idp.web.signin import after_step, bp, signed_in_first_step

GENERIC_FAILURE = _l(
    "That email and password don't match our records. Please check them and try again."
)


def throttled_message(throttle: Throttled) -> str:
    """Said alike whether the account exists: the counters are kept for any email typed."""
    if throttle.capped:
        return _(
            "Too many wrong passwords for this account. For its safety we have paused password "
            "sign-in, except on devices you told us to remember. Sign in with a passkey, "
            "reset your password, or contact support."
        )
    minutes = max(1, -(-int(throttle.retry_after.total_seconds()) // 60))
    return ngettext(
        "Too many attempts from here. For your security, please wait %(num)d minute and try again.",
        "Too many attempts from here. For your security, please wait %(num)d minutes and try "
        "again.",
        minutes,
    )


@bp.route("", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
def password() -> Response | tuple[str, int] | str:
    """Email and password: an unknown email and a wrong password look the same."""
    rid = request.args.get("rid")
    view = gating.pending_view(rid)
    # Only a POST reads the form: the page writes its own fields (~0.1 ms a GET not built).
    form = PasswordForm() if request.method == "POST" else None
    error = None
    status = 200
    if form is not None and form.validate_on_submit():
        settings = current.settings()
        passwords = current.passwords()
        try:
            user = passwords.authenticate(
                email=form.email.data or "",
                password=form.password.data or "",
                now=now(),
                backoff=settings.password_backoff,
                source=client_bucket(),  # per-source counters: IPv6 per /64
                # Only a browser the trust decision accepts skips the counters.
                trusted_browser=lambda user: gating.device_trusted(
                    user, view.client if view else None
                ),
            )
        except SignInThrottled as exc:
            audit.record(
                "password.throttled",
                email=(form.email.data or "")[:320],
                capped=exc.throttle.capped,
                retry_after=int(exc.throttle.retry_after.total_seconds()),
            )
            error, status = throttled_message(exc.throttle), 429
        except InvalidCredentials:
            # Also commits the failure count authenticate() raised: one commit on both paths.
            audit.record(
                "password.failed",
                email=(form.email.data or "")[:320],
                client_id=view.client.client_id if view else None,
            )
            error, status = str(GENERIC_FAILURE), 401
        else:
            browser.begin_sign_in(user.id, now())
            signed_in_first_step(rid)
            users.set_time_zone(user, request.form.get("time_zone"))  # for times shown to them
            audit.record(
                "password.verified",
                user_id=user.id,
                client_id=view.client.client_id if view else None,
            )
            return after_step(rid)
    elif form is not None:
        error, status = _("Please enter your email address and password."), 400
    # The address typed, shown again; on the first visit, the app's login_hint.
    email = (form.email.data or "") if form is not None else (view.login_hint if view else "")
    passkeys = policy_for(view.client if view else None, current.settings()).passkey_signin
    return render_template(
        "signin/password.html", email=email, view=view, error=error, passkeys=passkeys
    ), status
