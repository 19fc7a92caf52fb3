"""One policy for every new password (NIST SP 800-63B 5.1.1.2), judged by zxcvbn."""

from __future__ import annotations

from collections.abc import Sequence

from zxcvbn import zxcvbn

from idp.errors import IdpError

MIN_LENGTH = 8
MAX_LENGTH = 256
# zxcvbn score 0-4; below 3 means guessable in an online or slow offline attack.
MIN_SCORE = 3


class WeakPassword(IdpError):
    """The new password is refused; `reason` is shown to the user."""

    code = "weak_password"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Please choose a different password. {reason}")
        self.reason = reason


def check_new_password(password: str, *, user_inputs: Sequence[str] = ()) -> None:
    """Raise WeakPassword with a human reason; no composition rules (800-63B)."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    # zxcvbn is slow on very long inputs and they are never weak: judge the first 100.
    result = zxcvbn(password[:100], user_inputs=[s for s in user_inputs if s])
    if result["score"] < MIN_SCORE:
        feedback = result.get("feedback") or {}
        hint = feedback.get("warning") or "This password is too easy to guess."
        suggestions = " ".join(feedback.get("suggestions") or [])
        raise WeakPassword(f"{hint} {suggestions}".strip())
