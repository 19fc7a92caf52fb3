"""signin_required and recent_auth_required: account pages ask the same sign-in policy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import g, redirect, request, url_for

from idp.authn.state import Step
from idp.clock import now
from idp.web import flow
from idp.web import session as browser

RECENT = timedelta(minutes=10)


def signin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only a fully signed-in user (password and second factor) gets through; sets g.user."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        gate = flow.gate(None)
        if gate.user is None or gate.decision.step is not Step.DONE:
            endpoint = flow.STEP_ENDPOINTS.get(gate.decision.step, "signin.password")
            return redirect(url_for(endpoint))
        g.user = gate.user
        g.authentication = gate.decision.authentication
        return view(*args, **kwargs)

    return wrapped


def has_recent_second_factor(window: timedelta = RECENT, *, strong: bool = False) -> bool:
    """A second factor verified in this session within `window` (WebAuthn/recovery if strong)."""
    state = browser.session_state()
    if state is None:
        return False
    cutoff = now() - window
    for factor in state.factors:
        strong_enough = not strong or factor.factor in {"webauthn", "recovery_code"}
        if factor.at >= cutoff and factor.factor.is_second_factor and strong_enough:
            return True
    return False


def recent_auth_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Changing factors needs a second factor from the last 10 minutes (step-up otherwise)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not has_recent_second_factor():
            return redirect(url_for("account.reverify", next=request.full_path))
        return view(*args, **kwargs)

    return signin_required(wrapped)


def local_next(default: str) -> str:
    """The `next` parameter when it is a path on this site, else `default` (no open redirect).

    Browsers read `/\\host` like `//host`, so backslashes and control characters are refused too.
    """
    target = request.args.get("next") or ""
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 0x20 for ch in target)
    ):
        return default
    return target
