"""The one "confirm it's you" form: sign-in challenge, password reset and account step-up.

Each page hands it the methods it accepts and where WebAuthn answers go; the form, the labels,
the email-code resend and the verification (authn/second_factor.py) are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from flask import request
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from idp.authn import email_code, second_factor
from idp.authn.errors import FactorError, ResendLimited, ResendTooSoon
from idp.authn.factors import Factor
from idp.authn.second_factor import Attempt, Verified
from idp.clock import now
from idp.web import current
from idp.web.forms import CodeForm, ConfirmForm


@dataclass(frozen=True, slots=True)
class Label:
    """How a method is named to people: in a list, above the field, and what to do."""

    name: LazyString
    field: LazyString
    hint: LazyString


LABELS: dict[Factor, Label] = {
    Factor.WEBAUTHN: Label(
        _l("Security key or passkey"),
        _l("Security key or passkey"),
        _l(
            "Use your security key or passkey: touch the key, or use your fingerprint, face or "
            "screen lock when asked."
        ),
    ),
    Factor.TOTP: Label(
        _l("Authenticator app"),
        _l("Code from your authenticator app"),
        _l("Open your authenticator app and enter the 6-digit code it shows."),
    ),
    Factor.EMAIL_CODE: Label(
        _l("Code by email"),
        _l("Code from the email"),
        _l("We sent a 6-digit code to your email address. It works for 10 minutes."),
    ),
    Factor.RECOVERY_CODE: Label(
        _l("Recovery code"),
        _l("Recovery code"),
        _l(
            "Enter one of the recovery codes you saved when you set up your account. "
            "Each code works once."
        ),
    ),
}


@dataclass
class Prompt:
    """What the partial `_factor_prompt.html` renders, and what happened on this request."""

    method: Factor
    label: Label
    others: list[tuple[str, str]]  # (name, url) for "Try another way"
    webauthn_urls: tuple[str, str]  # options, finish
    remember_days: int | None = None
    error: str | None = None
    error_code: str | None = None
    status: int = 200
    verified: Verified | None = None
    email: str = ""
    # False when no email code is waiting and none could be sent: don't claim one was.
    code_waiting: bool = True

    @cached_property
    def form(self) -> CodeForm:
        """The code's form: built where a code is posted (the page writes its own fields)."""
        return CodeForm()

    @cached_property
    def resend(self) -> ConfirmForm:
        """The email code's "Send a new code" form: built only where it is shown or posted."""
        return ConfirmForm(prefix="resend")


# Refusals that are not a guess at a code: they don't count towards ending the sign-in.
NOT_GUESSES = frozenset(
    {
        "code_expired",
        "method_not_accepted",
        "second_factor_locked",
        "resend_too_soon",
        "resend_limited",
    }
)


def chosen(methods: tuple[Factor, ...]) -> Factor | None:
    """The method asked for in `?method=` if this page accepts it, else the first (default)."""
    wanted = request.args.get("method")
    return next((m for m in methods if m == wanted), methods[0] if methods else None)


def ask(
    attempt: Attempt,
    methods: tuple[Factor, ...],
    *,
    method_url: Callable[[Factor], str],
    webauthn_urls: tuple[str, str],
    remember_days: int | None = None,
) -> Prompt | None:
    """Show, resend or verify; None when the page accepts no method the user has."""
    method = chosen(methods)
    if method is None:
        return None
    user, at, secret = attempt.user, now(), current.settings().secret_key
    prompt = Prompt(
        method=method,
        label=LABELS[method],
        others=[(LABELS[m].name, method_url(m)) for m in methods if m != method],
        webauthn_urls=webauthn_urls,
        remember_days=remember_days,
        email=user.email,
    )
    if method is Factor.WEBAUTHN:
        return prompt  # answered by static/webauthn.js at webauthn_urls
    # The resend form's button is the one name it posts: without it, nothing to build.
    posted = request.method == "POST" and "resend-submit" in request.form
    if posted and prompt.resend.submit.data and prompt.resend.validate():
        if method is Factor.EMAIL_CODE:
            try:
                email_code.send_code(user, "signin", now=at, app_secret=secret)
            except ResendTooSoon as exc:
                prompt.error, prompt.error_code, prompt.status = exc.message, exc.code, 429
                prompt.code_waiting = email_code.live_code(user, "signin", now=at) is not None
    elif request.method == "POST" and prompt.form.validate_on_submit():
        try:
            prompt.verified = second_factor.verify(
                attempt,
                method,
                prompt.form.code.data or "",
                accepted=methods,
                now=at,
                app_secret=secret,
            )
        except FactorError as exc:
            prompt.error, prompt.error_code = exc.message, exc.code
            prompt.status = 429 if exc.code == "second_factor_locked" else 400
    elif method is Factor.EMAIL_CODE:
        prompt.code_waiting = email_code.ensure_sent(user, "signin", now=at, app_secret=secret)
        if not prompt.code_waiting:
            prompt.error = str(ResendLimited.message)
    return prompt
