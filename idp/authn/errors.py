"""Why a factor was refused; each has a stable code and one message users may see."""

from __future__ import annotations

from datetime import datetime


class FactorError(Exception):
    """A second factor was not accepted."""

    code = "factor_error"
    message = "That code didn't work. Please check it and try again."


class InvalidCode(FactorError):
    code = "invalid_code"


class CodeReplayed(FactorError):
    """An authenticator code already used: wait for the next one."""

    code = "code_replayed"
    message = "That code was already used. Wait for your app to show a new one, then enter it."


class CodeExpired(FactorError):
    code = "code_expired"
    message = "That code has expired. We can send you a new one."


class TooManyAttempts(FactorError):
    code = "too_many_attempts"
    message = "Too many wrong codes. Please request a new code."


class ResendTooSoon(FactorError):
    code = "resend_too_soon"
    message = "We just sent you a code. Please wait a minute before asking for another."


class SecondFactorLocked(FactorError):
    """Too many wrong second-factor codes: a temporary lock."""

    code = "second_factor_locked"
    message = "Too many wrong codes. For your security, please wait 15 minutes and try again."

    def __init__(self, until: datetime | None = None) -> None:
        super().__init__(self.message)
        self.until = until
