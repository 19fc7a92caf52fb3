"""Factor names, amr values (RFC 8176) and acr levels: the words every layer uses."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idp.authn.state import VerifiedFactor


class Factor(StrEnum):
    """A way to prove who you are (DESIGN.md "Words")."""

    PASSWORD = "password"
    TOTP = "totp"
    EMAIL_CODE = "email_code"
    RECOVERY_CODE = "recovery_code"
    WEBAUTHN = "webauthn"

    @property
    def is_second_factor(self) -> bool:
        """Everything but the password: what enrollment and the second-factor step are about."""
        return self is not Factor.PASSWORD


class Acr(StrEnum):
    """Authentication context class levels, weakest first (DESIGN.md "amr and acr")."""

    REMEMBERED = "urn:idp:acr:remembered"
    MFA = "urn:idp:acr:mfa"
    PHR = "urn:idp:acr:phr"


# Discovery's acr_values_supported, weakest first: a stronger level satisfies a weaker request.
ACR_VALUES_SUPPORTED: tuple[str, ...] = tuple(level.value for level in Acr)

# Discovery's amr_values_supported. RFC 8176 section 2 registers pwd, otp, hwk, swk, user and
# mfa; totp, email and recovery are ours (DESIGN.md) so an RP can tell one-time codes apart.
# amr_for emits values in this order, so ID tokens are deterministic.
AMR_VALUES_SUPPORTED: tuple[str, ...] = (
    "pwd",
    "otp",
    "totp",
    "email",
    "recovery",
    "hwk",
    "swk",
    "user",
    "mfa",
)

_OTP_AMR = {Factor.TOTP: "totp", Factor.EMAIL_CODE: "email", Factor.RECOVERY_CODE: "recovery"}

# Factor kinds for "mfa" (NIST SP 800-63B 4.2: something you know, have, are). A WebAuthn user
# verification is a PIN (know) or a biometric (are) checked by the authenticator; we cannot tell
# which, but either is a kind other than possession of the key.
_KNOW, _HAVE, _KNOW_OR_ARE = "know", "have", "know_or_are"


def _amr_of(factor: VerifiedFactor) -> set[str]:
    if factor.factor is Factor.PASSWORD:
        return {"pwd"}
    if factor.factor is Factor.WEBAUTHN:
        # A backup-eligible credential may be synced to other devices: not hardware-bound.
        values = {"swk" if factor.backup_eligible else "hwk"}
        return values | {"user"} if factor.user_verified else values
    return {"otp", _OTP_AMR[factor.factor]}


def _kinds_of(factor: VerifiedFactor) -> set[str]:
    if factor.factor is Factor.PASSWORD:
        return {_KNOW}
    if factor.factor is Factor.WEBAUTHN and factor.user_verified:
        return {_HAVE, _KNOW_OR_ARE}
    return {_HAVE}


def amr_for(factors: Sequence[VerifiedFactor]) -> list[str]:
    """RFC 8176 amr values for the factors verified in this authentication, in a fixed order.

    "mfa" needs two different kinds, not two factors: TOTP plus an email code are both
    possession. A passkey with user verification is two kinds by itself (WebAuthn
    "multi-factor capable authenticator"), so it alone yields ["hwk" or "swk", "user", "mfa"].
    """
    values: set[str] = set()
    kinds: set[str] = set()
    for factor in factors:
        values |= _amr_of(factor)
        kinds |= _kinds_of(factor)
    if len(kinds) >= 2:
        values.add("mfa")
    return [value for value in AMR_VALUES_SUPPORTED if value in values]


def acr_for(factors: Sequence[VerifiedFactor], *, remembered: bool) -> str:
    """The acr level the factors reach; "" when they reach none (a bare password).

    phr needs a WebAuthn assertion (a key registered in this sign-in is bound, not proven: it
    reaches mfa), mfa any other second factor, remembered a password whose second factor a
    trusted device skipped. A password alone without a trusted device reaches no level: the
    policy never answers done for it, and "" makes any misuse visible.
    """
    kinds = {factor.factor for factor in factors}
    if any(factor.factor is Factor.WEBAUTHN and not factor.new for factor in factors):
        return Acr.PHR.value
    if any(kind.is_second_factor for kind in kinds):
        return Acr.MFA.value
    if remembered and Factor.PASSWORD in kinds:
        return Acr.REMEMBERED.value
    return ""
