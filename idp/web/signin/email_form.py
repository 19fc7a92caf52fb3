"""The "we emailed you a code" form, shared by email proof and email-code enrollment."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from idp import audit
from idp.authn import email_code
from idp.authn.errors import FactorError, ResendTooSoon
from idp.clock import now
from idp.models.user import User
from idp.web import flow
from idp.web.forms import CodeForm, ConfirmForm


@dataclass
class EmailCodeForm:
    """The page's two forms and what happened: accepted, or an error to show."""

    form: CodeForm
    resend: ConfirmForm
    accepted: bool = False
    error: str | None = None
    status: int = 200


def handle_email_code(user: User, purpose: str) -> EmailCodeForm:
    """Resend on request, verify a typed code, or send one when the page is first shown."""
    at, secret = now(), flow.settings().secret_key
    state = EmailCodeForm(form=CodeForm(), resend=ConfirmForm(prefix="resend"))
    if request.method == "POST" and state.resend.submit.data and state.resend.validate():
        try:
            email_code.send_code(user, purpose, now=at, app_secret=secret)
        except ResendTooSoon as exc:
            state.error, state.status = exc.message, 429
    elif state.form.validate_on_submit():
        try:
            email_code.verify_code(
                user, purpose, state.form.code.data or "", now=at, app_secret=secret
            )
        except FactorError as exc:
            audit.record("email_code.failed", user_id=user.id, purpose=purpose, reason=exc.code)
            state.error, state.status = exc.message, 400
        else:
            state.accepted = True
    else:
        email_code.ensure_sent(user, purpose, now=at, app_secret=secret)
    return state
