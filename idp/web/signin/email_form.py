"""The "we emailed you a code" form: email proof, email-code enrollment, a first key's check."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
from flask_babel import gettext as _

from idp import audit
from idp.authn import attempts, email_code
from idp.authn.errors import CodeExpired, FactorError, ResendTooSoon, SecondFactorLocked
from idp.clock import now
from idp.models.user import User
from idp.web import current
from idp.web.forms import CodeForm, ConfirmForm, refusal


@dataclass
class EmailCodeForm:
    """The page's two forms and what happened: accepted, or an error to show."""

    form: CodeForm
    resend: ConfirmForm
    accepted: bool = False
    error: str | None = None
    status: int = 200
    # False when no code is waiting and none could be sent (throttled): the page must not
    # claim "we sent a code".
    code_waiting: bool = True


def handle_email_code(user: User, purpose: str) -> EmailCodeForm:
    """Resend on request, verify a typed code, or send one when the page is first shown.

    Every typed code counts towards the same per-user limit as the second factor's codes.
    """
    at, secret = now(), current.settings().secret_key
    state = EmailCodeForm(form=CodeForm(), resend=ConfirmForm(prefix="resend"))
    if request.method == "POST" and state.resend.submit.data and state.resend.validate():
        try:
            email_code.send_code(user, purpose, now=at, app_secret=secret)
        except ResendTooSoon as exc:
            state.error, state.status = exc.message, 429
            state.code_waiting = email_code.live_code(user, purpose, now=at) is not None
    elif state.form.validate_on_submit():
        held = attempts.codes_throttled(user, now=at)
        if held is not None:
            audit.record("email_code.locked", user_id=user.id, purpose=purpose)
            state.error, state.status = SecondFactorLocked(held).message, 429
            return state
        try:
            email_code.verify_code(
                user, purpose, state.form.code.data or "", now=at, app_secret=secret
            )
        except FactorError as exc:
            audit.record("email_code.failed", user_id=user.id, purpose=purpose, reason=exc.code)
            if not isinstance(exc, CodeExpired):
                attempts.code_failed(user, now=at)
            state.error, state.status = refusal(exc)
        else:
            attempts.code_succeeded(user)
            state.accepted = True
    else:
        state.code_waiting = email_code.ensure_sent(user, purpose, now=at, app_secret=secret)
        if not state.code_waiting:
            state.error = _(
                "We have sent you several codes recently, so we did not send another one now. "
                "Please try again in a while."
            )
    return state
