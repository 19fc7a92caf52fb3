"""signin_required and recent_auth_required: account pages ask the same sign-in policy."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, redirect, request, url_for
from werkzeug.wrappers import Response  # what redirect() returns; flask's is a subclass

from idp.authn import policy
from idp.authn.factors import Factor
from idp.authn.policy import Change, StepUp
from idp.authn.state import Step
from idp.clock import now
from idp.web import browser, gating, new_browser


def signin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only a fully signed-in user (password and second factor) gets through; sets g.user."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        gate = gating.check(None)
        if gate.user is None or gate.decision.step is not Step.DONE:
            endpoint = gating.STEP_ENDPOINTS.get(gate.decision.step, "signin.password")
            # Back here once signed in (a form's POST cannot be replayed: GETs only).
            back = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for(endpoint, next=back))
        browser.drop_return_to()
        g.user = gate.user
        g.authentication = gate.decision.authentication
        new_browser.after_sign_in(gate.user, None)
        return view(*args, **kwargs)

    return wrapped


def stepped_up(purpose: StepUp = StepUp.ACCOUNT, *, strong: bool = False) -> bool:
    """The session holds a second factor recent (and strong) enough: policy.step_up_satisfied."""
    return policy.step_up_satisfied(
        browser.session_state(), purpose=purpose, strong=strong, now=now()
    )


def recent_auth_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Changing factors needs a second factor from the last 10 minutes (step-up otherwise)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not stepped_up():
            return redirect(url_for("account.reverify", next=_after_step_up()))
        return view(*args, **kwargs)

    return signin_required(wrapped)


def strong_step_up_redirect(change: Change, enrolled: frozenset[Factor]) -> Response | None:
    """A redirect to the strong step-up when `change` needs one the session lacks, else None."""
    if not policy.needs_strong_step_up(change, enrolled) or stepped_up(strong=True):
        return None
    return redirect(url_for("account.reverify", strong=1, next=_after_step_up()))


def _after_step_up() -> str:
    """Where the step-up returns: this page, or for a form's POST (a redirect cannot replay it,
    it would answer 405) the account page the form was on, to press the button again."""
    if request.method == "GET":
        return request.full_path
    return url_for("account.security", confirmed=1)


def local_next(default: str) -> str:
    """The `next` parameter when it is a path on this site, else `default` (no open redirect)."""
    return local_path(request.args.get("next"), default)


def local_path(target: str | None, default: str) -> str:
    """`target` when it is a path on this site, else `default`.

    Browsers read `/\\host` like `//host`, so backslashes and control characters are refused too.
    """
    target = target or ""
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 0x20 for ch in target)
    ):
        return default
    return target
