"""Strength, step-up, re-authentication and recovery (DESIGN.md "Recovery and new factors")."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idp.authn.factors import Acr, Factor
from idp.authn.policy import (
    Change,
    ResetPath,
    StepUp,
    consent_step,
    first_key_needs_confirmation,
    is_strong,
    needs_strong_step_up,
    remember_days_offered,
    reset_methods,
    reset_path,
    step_up_methods,
    step_up_satisfied,
)
from idp.authn.state import ClientPolicy, Requirements, SessionState, Step, VerifiedFactor
from tests.authn.test_policy import (
    NOW,
    PASSWORD_AT,
    PHISHING_RESISTANT,
    USER_ID,
    decide,
    make_device,
    make_session,
    make_user,
    verified,
)

TOTP, EMAIL, RECOVERY, WEBAUTHN = (
    Factor.TOTP,
    Factor.EMAIL_CODE,
    Factor.RECOVERY_CODE,
    Factor.WEBAUTHN,
)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def registered(ago: timedelta = MINUTE) -> VerifiedFactor:
    """A key registered (bound, not proven) `ago` before NOW."""
    return VerifiedFactor(WEBAUTHN, at=NOW - ago, user_verified=True, new=True)


# A key registered in this sign-in is not its phishing-resistant proof ---------------------
def test_registered_key_is_not_phr_proof_for_a_phr_client() -> None:
    """Password + TOTP + a key registered now: the phr client still wants an assertion."""
    decision = decide(
        user=make_user(TOTP, WEBAUTHN),
        session=make_session(verified(TOTP), registered()),
        client=PHISHING_RESISTANT,
    )
    assert decision.step is Step.SECOND_FACTOR
    assert decision.methods == (WEBAUTHN,)


def test_registered_key_reaches_mfa_not_phr() -> None:
    """Enrolled at first sign-in for an ordinary client: mfa, never phr."""
    decision = decide(user=make_user(WEBAUTHN), session=make_session(registered()))
    assert decision.step is Step.DONE and decision.authentication is not None
    assert decision.authentication.acr == Acr.MFA
    assert "mfa" in decision.authentication.amr


def test_assertion_after_registration_is_phr() -> None:
    """Using the key (a signature over our challenge) is the proof."""
    decision = decide(
        user=make_user(TOTP, WEBAUTHN),
        session=make_session(verified(TOTP), verified(WEBAUTHN, uv=True)),
        client=PHISHING_RESISTANT,
    )
    assert decision.step is Step.DONE and decision.authentication is not None
    assert decision.authentication.acr == Acr.PHR


def test_registered_key_does_not_answer_a_phr_request() -> None:
    """acr_values=phr on an ordinary client: a registration is not enough either."""
    decision = decide(
        user=make_user(WEBAUTHN),
        session=make_session(registered()),
        requirements=Requirements(acr_values=(Acr.PHR,)),
    )
    assert decision.step is Step.SECOND_FACTOR
    assert decision.methods == (WEBAUTHN,)


# Rule 5: no remembered device for a phishing-resistant client --------------------------
def test_trusted_device_never_skips_for_a_phr_client() -> None:
    """Amended rule 5: the client requires phishing resistance, so the device is challenged."""
    decision = decide(user=make_user(WEBAUTHN), device=make_device(), client=PHISHING_RESISTANT)
    assert decision.step is Step.SECOND_FACTOR
    assert not decision.used_trusted_device
    assert decision.reason == "client requires phishing resistance"


# Rule 1: a re-authentication starts afresh ---------------------------------------------
def test_factor_from_before_a_reauthentication_does_not_count() -> None:
    """prompt=login an hour after the TOTP: the new password alone is not done."""
    session = make_session(verified(TOTP, timedelta(hours=1)), password_at=NOW - MINUTE)
    decision = decide(session=session, requirements=Requirements(acr_values=(Acr.MFA,)))
    assert decision.step is Step.SECOND_FACTOR


def test_reauthentication_may_still_use_a_trusted_device() -> None:
    """Rule 1 keeps rule 5: a trusted device may skip, and amr says only pwd."""
    session = make_session(verified(TOTP, timedelta(hours=1)), password_at=NOW - MINUTE)
    decision = decide(session=session, device=make_device())
    assert decision.step is Step.DONE and decision.authentication is not None
    assert decision.authentication.amr == ("pwd",)
    assert decision.authentication.auth_time == NOW - MINUTE


# Strength is one rule -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("factor", "strong"),
    [
        pytest.param(verified(WEBAUTHN), True, id="webauthn-assertion"),
        pytest.param(registered(), False, id="webauthn-registered-now"),
        pytest.param(verified(RECOVERY), True, id="recovery-code-from-an-older-set"),
        pytest.param(
            VerifiedFactor(RECOVERY, at=NOW, new=True), False, id="recovery-code-minted-now"
        ),
        pytest.param(verified(TOTP), False, id="totp"),
        pytest.param(verified(EMAIL), False, id="email-code"),
    ],
)
def test_is_strong(factor: VerifiedFactor, strong: bool) -> None:
    """Strong means WebAuthn or a recovery code issued before the current session."""
    assert is_strong(factor) is strong


@pytest.mark.parametrize(
    ("factors", "purpose", "strong", "ok"),
    [
        pytest.param((verified(TOTP, 9 * MINUTE),), StepUp.ACCOUNT, False, True, id="acct-9m"),
        pytest.param((verified(TOTP, 10 * MINUTE),), StepUp.ACCOUNT, False, True, id="acct-10m"),
        pytest.param(
            (verified(TOTP, 10 * MINUTE + MINUTE),), StepUp.ACCOUNT, False, False, id="acct-11m"
        ),
        pytest.param((verified(TOTP, 14 * MINUTE),), StepUp.ADMIN, False, True, id="admin-14m"),
        pytest.param((verified(TOTP, 16 * MINUTE),), StepUp.ADMIN, False, False, id="admin-16m"),
        pytest.param((verified(TOTP),), StepUp.ACCOUNT, True, False, id="totp-not-strong"),
        pytest.param((registered(),), StepUp.ACCOUNT, True, False, id="new-key-not-strong"),
        pytest.param(
            (VerifiedFactor(RECOVERY, at=NOW, new=True),),
            StepUp.ACCOUNT,
            True,
            False,
            id="fresh-recovery-code-not-strong",
        ),
        pytest.param((verified(RECOVERY),), StepUp.ACCOUNT, True, True, id="old-recovery-code"),
        pytest.param((verified(WEBAUTHN),), StepUp.ADMIN, True, True, id="key"),
        pytest.param((), StepUp.ACCOUNT, False, False, id="nothing"),
        pytest.param(
            (verified(Factor.PASSWORD),), StepUp.ACCOUNT, False, False, id="password-is-not"
        ),
    ],
)
def test_step_up_satisfied(
    factors: tuple[VerifiedFactor, ...], purpose: StepUp, strong: bool, ok: bool
) -> None:
    """Account step-up is 10 minutes, admin 15; strong asks WebAuthn or an older recovery code."""
    session = SessionState(user_id=USER_ID, password_at=NOW - timedelta(hours=1), factors=factors)
    assert step_up_satisfied(session, purpose=purpose, strong=strong, now=NOW) is ok


def test_step_up_ignores_factors_before_a_reauthentication() -> None:
    """A factor from before the current password does not step anything up."""
    session = make_session(verified(WEBAUTHN, 6 * MINUTE), password_at=PASSWORD_AT)
    assert not step_up_satisfied(session, purpose=StepUp.ACCOUNT, strong=True, now=NOW)
    assert not step_up_satisfied(None, purpose=StepUp.ACCOUNT, strong=False, now=NOW)


@pytest.mark.parametrize(
    ("change", "enrolled", "strong"),
    [
        pytest.param(Change.REMOVE_WEBAUTHN, {TOTP, WEBAUTHN}, True, id="remove-key"),
        pytest.param(Change.REMOVE_OTHER, {TOTP, WEBAUTHN}, False, id="remove-totp"),
        pytest.param(Change.ADD_WEBAUTHN, {TOTP}, False, id="first-key-confirmed-by-mail"),
        pytest.param(Change.ADD_WEBAUTHN, {TOTP, WEBAUTHN}, True, id="second-key"),
        pytest.param(Change.NEW_RECOVERY_CODES, {TOTP}, False, id="codes-without-key"),
        pytest.param(Change.NEW_RECOVERY_CODES, {TOTP, WEBAUTHN}, True, id="codes-with-key"),
        pytest.param(Change.ADD_OTHER, {WEBAUTHN}, False, id="add-totp"),
    ],
)
def test_needs_strong_step_up(change: Change, enrolled: set[Factor], strong: bool) -> None:
    """A phishable factor can't remove, add or mint what counts as strong while a key guards."""
    assert needs_strong_step_up(change, frozenset(enrolled)) is strong


@pytest.mark.parametrize(
    ("enrolled", "trusted", "confirmed", "needed"),
    [
        pytest.param({TOTP}, False, None, True, id="first-key-unconfirmed"),
        pytest.param({TOTP}, False, 15 * MINUTE, False, id="first-key-mailbox-confirmed"),
        pytest.param({TOTP}, False, 15 * MINUTE + SECOND, True, id="mailbox-confirmation-stale"),
        pytest.param({TOTP}, True, None, False, id="first-key-trusted-browser"),
        pytest.param(set(), False, None, True, id="first-factor-is-a-key"),
        pytest.param({TOTP, WEBAUTHN}, False, None, False, id="not-the-first-key"),
    ],
)
def test_first_key_needs_confirmation(
    enrolled: set[Factor], trusted: bool, confirmed: timedelta | None, needed: bool
) -> None:
    """A user's first key needs the mailbox (in the last 15 minutes) or a trusted browser."""
    result = first_key_needs_confirmation(
        frozenset(enrolled),
        trusted_browser=trusted,
        mailbox_confirmed_at=None if confirmed is None else NOW - confirmed,
        now=NOW,
    )
    assert result is needed


@pytest.mark.parametrize(
    ("enrolled", "strong", "methods"),
    [
        pytest.param({RECOVERY, TOTP, WEBAUTHN, EMAIL}, False, (WEBAUTHN, TOTP, EMAIL, RECOVERY)),
        pytest.param({RECOVERY, TOTP, WEBAUTHN, EMAIL}, True, (WEBAUTHN, RECOVERY)),
        pytest.param({TOTP, EMAIL}, True, ()),
    ],
)
def test_step_up_methods(enrolled: set[Factor], strong: bool, methods: tuple[Factor, ...]) -> None:
    """The step-up offers the strongest first; a strong step-up only what can be strong."""
    assert step_up_methods(frozenset(enrolled), strong=strong) == methods


@pytest.mark.parametrize(
    ("enrolled", "path", "methods"),
    [
        pytest.param({EMAIL}, ResetPath.COOLING_OFF, (), id="email-only-cools-off"),
        pytest.param({EMAIL, RECOVERY}, ResetPath.FACTOR, (RECOVERY,), id="email-and-codes"),
        pytest.param({WEBAUTHN}, ResetPath.FACTOR, (WEBAUTHN,), id="key-only"),
        pytest.param(
            {TOTP, EMAIL, WEBAUTHN, RECOVERY},
            ResetPath.FACTOR,
            (WEBAUTHN, TOTP, RECOVERY),
            id="all-but-email",
        ),
        pytest.param(set(), ResetPath.LINK_ONLY, (), id="no-factor-yet"),
    ],
)
def test_reset_path(enrolled: set[Factor], path: ResetPath, methods: tuple[Factor, ...]) -> None:
    """The link proved the mailbox: an email code never completes a reset."""
    assert reset_path(frozenset(enrolled)) is path
    assert reset_methods(frozenset(enrolled)) == methods


def test_no_remember_box_for_a_phr_client() -> None:
    """The checkbox is never offered where rule 5 can never skip."""
    assert remember_days_offered(PHISHING_RESISTANT) is None
    assert remember_days_offered(ClientPolicy(remember_device=False)) is None
    assert remember_days_offered(ClientPolicy(remember_days=7)) == 7


@pytest.mark.parametrize(
    ("needed", "prompt_none", "step", "error"),
    [
        pytest.param(False, False, Step.DONE, None, id="no-consent-needed"),
        pytest.param(True, False, Step.CONSENT, None, id="consent-page"),
        pytest.param(True, True, Step.ERROR, "consent_required", id="prompt-none"),
        pytest.param(False, True, Step.DONE, None, id="prompt-none-consented"),
    ],
)
def test_consent_step(needed: bool, prompt_none: bool, step: Step, error: str | None) -> None:
    """The policy alone answers prompt=none, for consent too (OIDC Core 3.1.2.6)."""
    done = decide(session=make_session(verified(TOTP)))
    assert done.step is Step.DONE
    decided = consent_step(done, needed=needed, prompt_none=prompt_none)
    assert decided.step is step and decided.error == error
    # A step before consent stays what it was.
    pending = decide(session=None)
    assert consent_step(pending, needed=True, prompt_none=True) is pending
