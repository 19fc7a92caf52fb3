"""Why a factor was refused; each has a stable code and one message users may see."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from idp.authn.policy import Throttled
from idp.errors import IdpError


class FactorError(IdpError):
    """A second factor was not accepted."""

    code = "factor_error"
    message = _l("That code didn't work. Please check it and try again.")


class InvalidCode(FactorError):
    code = "invalid_code"


class CodeReplayed(FactorError):
    """An authenticator code already used: wait for the next one."""

    code = "code_replayed"
    message = _l("That code was already used. Wait for your app to show a new one, then enter it.")


class CodeExpired(FactorError):
    code = "code_expired"
    message = _l("That code has expired. We can send you a new one.")


class TooManyAttempts(FactorError):
    code = "too_many_attempts"
    message = _l("Too many wrong codes. Please request a new code.")


class ResendTooSoon(FactorError):
    code = "resend_too_soon"
    message = _l("We just sent you a code. Please wait a minute before asking for another.")


class ResendLimited(ResendTooSoon):
    """Too many codes sent in the last hour: none was sent now."""

    code = "resend_limited"
    message = _l(
        "We have already sent you several codes in the last hour, so we did not send another. "
        "Please use the newest one we sent, or try again later."
    )


class SecondFactorLocked(FactorError):
    """Too many wrong one-time codes for this user: a growing wait, or capped."""

    code = "second_factor_locked"
    message = _l(
        "Too many wrong codes. For your security, please wait a few minutes and try again."
    )

    def __init__(self, throttle: Throttled | None = None) -> None:
        self.throttle = throttle
        if throttle is not None and throttle.capped:
            self.message = _l(
                "Too many wrong codes. For your safety we have stopped accepting codes for your "
                "account. Use your security key or passkey, or contact support."
            )
        elif throttle is not None:
            minutes = max(1, -(-int(throttle.retry_after.total_seconds()) // 60))
            self.message = lazy_ngettext(
                "Too many wrong codes. For your security, please wait %(num)d minute and try "
                "again.",
                "Too many wrong codes. For your security, please wait %(num)d minutes and try "
                "again.",
                minutes,
            )
        super().__init__(self.message)
