"""amr (RFC 8176) and acr values for the factors verified in a sign-in."""

from __future__ import annotations

from datetime import datetime

import pytest

from idp.authn.factors import (
    ACR_VALUES_SUPPORTED,
    AMR_VALUES_SUPPORTED,
    Acr,
    Factor,
    acr_for,
    amr_for,
)
from idp.authn.state import VerifiedFactor

AT = datetime(2025, 6, 1, 12, 0, 0)
PWD = VerifiedFactor(Factor.PASSWORD, at=AT)
TOTP = VerifiedFactor(Factor.TOTP, at=AT)
EMAIL = VerifiedFactor(Factor.EMAIL_CODE, at=AT)
RECOVERY = VerifiedFactor(Factor.RECOVERY_CODE, at=AT)
KEY = VerifiedFactor(Factor.WEBAUTHN, at=AT)  # device-bound, presence only
KEY_UV = VerifiedFactor(Factor.WEBAUTHN, at=AT, user_verified=True)
PASSKEY = VerifiedFactor(Factor.WEBAUTHN, at=AT, backup_eligible=True)
PASSKEY_UV = VerifiedFactor(Factor.WEBAUTHN, at=AT, user_verified=True, backup_eligible=True)

AMR_CASES = [
    pytest.param([PWD], ["pwd"], id="password"),
    pytest.param([PWD, TOTP], ["pwd", "otp", "totp", "mfa"], id="totp"),
    pytest.param([PWD, EMAIL], ["pwd", "otp", "email", "mfa"], id="email-code"),
    pytest.param([PWD, RECOVERY], ["pwd", "otp", "recovery", "mfa"], id="recovery-code"),
    pytest.param([PWD, KEY], ["pwd", "hwk", "mfa"], id="webauthn-hwk-no-uv"),
    pytest.param([PWD, KEY_UV], ["pwd", "hwk", "user", "mfa"], id="webauthn-hwk-uv"),
    pytest.param([PWD, PASSKEY], ["pwd", "swk", "mfa"], id="webauthn-swk-no-uv"),
    pytest.param([PWD, PASSKEY_UV], ["pwd", "swk", "user", "mfa"], id="webauthn-swk-uv"),
    # Multi-factor means two kinds, not two factors.
    pytest.param([KEY_UV], ["hwk", "user", "mfa"], id="passkey-with-uv-alone-is-mfa"),
    pytest.param([PASSKEY_UV], ["swk", "user", "mfa"], id="synced-passkey-with-uv-alone"),
    pytest.param([KEY], ["hwk"], id="key-without-uv-alone-is-not-mfa"),
    pytest.param([TOTP, EMAIL], ["otp", "totp", "email"], id="two-possession-factors-not-mfa"),
    pytest.param([PWD, PWD], ["pwd"], id="password-twice-not-mfa"),
    pytest.param([PWD, TOTP, TOTP], ["pwd", "otp", "totp", "mfa"], id="no-duplicates"),
    pytest.param(
        [PASSKEY, TOTP, PWD], ["pwd", "otp", "totp", "swk", "mfa"], id="order-independent"
    ),
    pytest.param([], [], id="nothing"),
]


@pytest.mark.parametrize(("factors", "amr"), AMR_CASES)
def test_amr_for(factors: list[VerifiedFactor], amr: list[str]) -> None:
    """RFC 8176 values per factor, "mfa" for two kinds, fixed order, no duplicates."""
    assert amr_for(factors) == amr


def test_amr_values_supported_is_what_amr_for_emits() -> None:
    """Discovery advertises exactly the values ID tokens can carry, in emission order."""
    emitted = {value for case in AMR_CASES for value in case.values[1]}
    assert set(AMR_VALUES_SUPPORTED) == emitted
    everything = amr_for([PWD, TOTP, EMAIL, RECOVERY, KEY_UV, PASSKEY])
    assert everything == list(AMR_VALUES_SUPPORTED)


@pytest.mark.parametrize(
    ("factors", "remembered", "acr"),
    [
        pytest.param([PWD], True, Acr.REMEMBERED, id="password-trusted-device"),
        pytest.param([PWD], False, "", id="password-alone-reaches-no-level"),
        pytest.param([], True, "", id="no-password-no-remembered"),
        pytest.param([PWD, TOTP], False, Acr.MFA, id="totp"),
        pytest.param([PWD, TOTP], True, Acr.MFA, id="verified-factor-beats-remembered"),
        pytest.param([PWD, EMAIL], False, Acr.MFA, id="email-code"),
        pytest.param([PWD, RECOVERY], False, Acr.MFA, id="recovery-code"),
        pytest.param([PWD, KEY], False, Acr.PHR, id="webauthn"),
        pytest.param([PWD, TOTP, PASSKEY], False, Acr.PHR, id="webauthn-among-others"),
    ],
)
def test_acr_for(factors: list[VerifiedFactor], remembered: bool, acr: str) -> None:
    """phr for WebAuthn, mfa for another second factor, remembered for a skipped one."""
    assert acr_for(factors, remembered=remembered) == acr


def test_acr_values_supported_weakest_first() -> None:
    """Discovery lists the levels weakest first."""
    assert ACR_VALUES_SUPPORTED == (
        "urn:idp:acr:remembered",
        "urn:idp:acr:mfa",
        "urn:idp:acr:phr",
    )


@pytest.mark.parametrize("factor", list(Factor))
def test_second_factors(factor: Factor) -> None:
    """Only the password is not a second factor."""
    assert factor.is_second_factor is (factor is not Factor.PASSWORD)
