"""next_step: DESIGN.md's decision rules 1-6, table-driven, no app, no database, no HTTP."""

from __future__ import annotations

import ast
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import idp.authn
from idp.authn.factors import ACR_VALUES_SUPPORTED, Acr, Factor
from idp.authn.policy import (
    device_trusted,
    next_step,
    requested_level,
    reverification_due,
)
from idp.authn.state import (
    ClientPolicy,
    Decision,
    GlobalPolicy,
    Requirements,
    SessionState,
    Step,
    TrustedDeviceState,
    UserState,
    VerifiedFactor,
)

NOW = datetime(2025, 6, 1, 12, 0, 0)
PASSWORD_AT = NOW - timedelta(minutes=5)
USER_ID = 7
MAX_AGE = timedelta(hours=12)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)

TOTP, EMAIL, RECOVERY, WEBAUTHN = (
    Factor.TOTP,
    Factor.EMAIL_CODE,
    Factor.RECOVERY_CODE,
    Factor.WEBAUTHN,
)
ENROLLABLE = (TOTP, EMAIL, WEBAUTHN)
PHISHING_RESISTANT = ClientPolicy(mfa="phishing_resistant")


def verified(
    factor: Factor, ago: timedelta = timedelta(minutes=1), *, uv: bool = False, be: bool = False
) -> VerifiedFactor:
    """A factor verified `ago` before NOW."""
    return VerifiedFactor(factor, at=NOW - ago, user_verified=uv, backup_eligible=be)


FRESH_TOTP = verified(TOTP)
FRESH_KEY = verified(WEBAUTHN, uv=True)


def make_user(
    *enrolled: Factor,
    last_used: Factor | None = None,
    activated: bool = True,
    disabled: bool = False,
) -> UserState:
    """An activated user with TOTP unless told otherwise."""
    return UserState(
        user_id=USER_ID,
        activated=activated,
        enrolled=frozenset(enrolled or (TOTP,)),
        last_used=last_used,
        disabled=disabled,
    )


def make_session(
    *factors: VerifiedFactor, password_at: datetime = PASSWORD_AT, user_id: int = USER_ID
) -> SessionState:
    """A session whose password was entered five minutes ago."""
    return SessionState(user_id=user_id, password_at=password_at, factors=factors)


def make_device(
    *,
    created: timedelta = DAY,
    expires: timedelta | None = None,
    last_verified: timedelta | None = None,
    agent_matches: bool = True,
) -> TrustedDeviceState:
    """A device trusted `created` before NOW for 30 days; every other field valid."""
    created_at = NOW - created
    return TrustedDeviceState(
        created_at=created_at,
        expires_at=NOW + expires if expires is not None else created_at + 30 * DAY,
        last_verified_at=NOW - last_verified if last_verified is not None else created_at,
        agent_matches=agent_matches,
    )


def decide(**overrides: Any) -> Decision:
    """next_step with a signed-in TOTP user, no fresh factor, no device, default policies."""
    arguments: dict[str, Any] = {
        "user": make_user(),
        "session": make_session(),
        "device": None,
        "client": ClientPolicy(),
        "requirements": Requirements(),
        "policy": GlobalPolicy(),
        "now": NOW,
    }
    arguments.update(overrides)
    return next_step(**arguments)


def check(decision: Decision, requirements: Requirements, step: Step, **expected: Any) -> None:
    """The decision has `step` and every expected field, and is internally consistent."""
    assert decision.step is step, decision.reason
    for name, value in expected.items():
        assert getattr(decision, name) == value, (name, decision)
    assert decision.reason
    if step is Step.DONE:
        authentication = decision.authentication
        assert authentication is not None
        assert authentication.user_id == USER_ID
        assert authentication.auth_time == PASSWORD_AT  # DESIGN.md: the password's time
        level = requested_level(requirements)
        # A level satisfies a request for itself or any weaker one (DESIGN.md).
        assert level is None or ACR_VALUES_SUPPORTED.index(
            authentication.acr
        ) >= ACR_VALUES_SUPPORTED.index(level)
    else:
        assert decision.authentication is None
        assert not decision.used_trusted_device
    assert (decision.error is not None) == (step is Step.ERROR)


def acr(*values: str, essential: bool = False, **more: Any) -> Requirements:
    """Requirements asking for acr values."""
    return Requirements(acr_values=values, acr_essential=essential, **more)


SIGNED_IN = {"session": make_session(FRESH_TOTP)}  # would be done at rule 4
CASES = [
    # Rule 1: password.
    pytest.param({"session": None}, Step.PASSWORD, {}, id="r1-no-session"),
    pytest.param({"user": None, **SIGNED_IN}, Step.PASSWORD, {}, id="r1-no-user"),
    pytest.param(
        {"user": make_user(disabled=True), "device": make_device(), **SIGNED_IN},
        Step.PASSWORD,
        {},
        id="r1-disabled-user-is-no-session",
    ),
    pytest.param(
        {"session": make_session(FRESH_TOTP, user_id=USER_ID + 1)},
        Step.PASSWORD,
        {},
        id="r1-session-of-another-user",
    ),
    pytest.param(
        {"requirements": Requirements(password_not_before=PASSWORD_AT + SECOND), **SIGNED_IN},
        Step.PASSWORD,
        {},
        id="r1-max-age-elapsed-by-1s",
    ),
    pytest.param(
        {"requirements": Requirements(password_not_before=PASSWORD_AT), **SIGNED_IN},
        Step.DONE,
        {},
        id="r1-max-age-exactly-reached-is-fine",
    ),
    pytest.param(
        {"requirements": Requirements(password_not_before=NOW - SECOND), **SIGNED_IN},
        Step.PASSWORD,
        {},
        id="r1-prompt-login-password-before-request",
    ),
    pytest.param(
        {
            "requirements": Requirements(password_not_before=PASSWORD_AT - SECOND),
            "device": make_device(),
        },
        Step.DONE,
        {"used_trusted_device": True},
        id="r1-prompt-login-password-reentered",
    ),
    pytest.param(
        {"requirements": Requirements(password_not_before=NOW), "device": make_device()},
        Step.PASSWORD,
        {},
        id="r1-trusted-device-does-not-skip-password",
    ),
    # Rule 2: prove email, before enrollment and before any done.
    pytest.param(
        {"user": make_user(activated=False), "device": make_device(), **SIGNED_IN},
        Step.PROVE_EMAIL,
        {},
        id="r2-never-activated",
    ),
    pytest.param(
        {"user": UserState(USER_ID, activated=False, enrolled=frozenset(), last_used=None)},
        Step.PROVE_EMAIL,
        {},
        id="r2-before-r3",
    ),
    # Rule 3: enroll; no skip, not even by a trusted device.
    pytest.param(
        {"user": UserState(USER_ID, activated=True, enrolled=frozenset(), last_used=None)},
        Step.ENROLL,
        {"methods": ENROLLABLE},
        id="r3-no-factor",
    ),
    pytest.param(
        {
            "user": UserState(USER_ID, True, frozenset({Factor.PASSWORD}), Factor.PASSWORD),
            "device": make_device(),
        },
        Step.ENROLL,
        {"methods": ENROLLABLE},
        id="r3-password-is-not-a-second-factor-device-no-skip",
    ),
    pytest.param(
        {
            "user": UserState(USER_ID, activated=True, enrolled=frozenset(), last_used=None),
            "client": PHISHING_RESISTANT,
        },
        Step.ENROLL,
        {"methods": (WEBAUTHN,)},
        id="r3-phishing-resistant-client-enrolls-webauthn",
    ),
    pytest.param(
        {
            "user": UserState(USER_ID, activated=True, enrolled=frozenset(), last_used=None),
            "requirements": acr(Acr.PHR),
        },
        Step.ENROLL,
        {"methods": (WEBAUTHN,)},
        id="r3-acr-phr-enrolls-webauthn",
    ),
    pytest.param(
        {"user": make_user(RECOVERY), "session": make_session(verified(TOTP, MAX_AGE + SECOND))},
        Step.SECOND_FACTOR,
        {"methods": (RECOVERY,)},
        id="r3-only-recovery-codes-prove-one-first",
    ),
    pytest.param(
        {"user": make_user(RECOVERY), "session": make_session(verified(RECOVERY))},
        Step.ENROLL,
        {"methods": ENROLLABLE},
        id="r3-only-recovery-codes-proven-enroll",
    ),
    pytest.param(
        {"user": make_user(RECOVERY), "session": make_session(verified(Factor.PASSWORD))},
        Step.SECOND_FACTOR,
        {"methods": (RECOVERY,)},
        id="r3-password-entry-does-not-unlock-enrollment",
    ),
    # Rule 4: a fresh session factor.
    pytest.param(SIGNED_IN, Step.DONE, {"used_trusted_device": False}, id="r4-fresh-totp"),
    pytest.param(
        {"session": make_session(verified(TOTP, NOW - PASSWORD_AT)), "now": PASSWORD_AT + MAX_AGE},
        Step.DONE,
        {},
        id="r4-totp-exactly-12h-counts",
    ),
    pytest.param(
        {"session": make_session(verified(TOTP, MAX_AGE + SECOND))},
        Step.SECOND_FACTOR,
        {"methods": (TOTP,)},
        id="r4-totp-12h-plus-1s-stale",
    ),
    pytest.param(
        {
            "session": make_session(verified(TOTP, timedelta(hours=1) + SECOND)),
            "policy": GlobalPolicy(session_mfa_max_age=timedelta(hours=1)),
        },
        Step.SECOND_FACTOR,
        {},
        id="r4-configured-max-age",
    ),
    pytest.param(
        {"session": make_session(verified(Factor.PASSWORD))},
        Step.SECOND_FACTOR,
        {},
        id="r4-password-entry-in-factors-ignored",
    ),
    pytest.param(
        {"user": make_user(TOTP, EMAIL), "session": make_session(verified(EMAIL))},
        Step.DONE,
        {},
        id="r4-fresh-email-code",
    ),
    pytest.param(
        {"user": make_user(TOTP, RECOVERY), "session": make_session(verified(RECOVERY))},
        Step.DONE,
        {},
        id="r4-fresh-recovery-code",
    ),
    # Rule 5: trusted device.
    pytest.param(
        {"device": make_device()}, Step.DONE, {"used_trusted_device": True}, id="r5-valid"
    ),
    pytest.param({"device": None}, Step.SECOND_FACTOR, {}, id="r5-no-device"),
    pytest.param(
        {"device": make_device(expires=SECOND)},
        Step.DONE,
        {"used_trusted_device": True},
        id="r5-one-second-before-expiry",
    ),
    pytest.param(
        {"device": make_device(expires=timedelta(0))},
        Step.SECOND_FACTOR,
        {},
        id="r5-expired-exactly-at-expiry",
    ),
    pytest.param(
        {"device": make_device(expires=-DAY)}, Step.SECOND_FACTOR, {}, id="r5-past-expiry"
    ),
    pytest.param(
        {"device": make_device(agent_matches=False)},
        Step.SECOND_FACTOR,
        {},
        id="r5-agent-mismatch",
    ),
    pytest.param(
        {"device": make_device(created=20 * DAY), "policy": GlobalPolicy(reverify_days=7)},
        Step.SECOND_FACTOR,
        {},
        id="r5-reverify-due",
    ),
    pytest.param(
        {
            "device": make_device(created=20 * DAY, last_verified=7 * DAY - SECOND),
            "policy": GlobalPolicy(reverify_days=7),
        },
        Step.DONE,
        {"used_trusted_device": True},
        id="r5-reverify-not-yet-due",
    ),
    pytest.param(
        {"device": make_device(created=29 * DAY)},
        Step.DONE,
        {"used_trusted_device": True},
        id="r5-reverify-off-by-default",
    ),
    pytest.param(
        {"device": make_device(), "client": ClientPolicy(remember_device=False)},
        Step.SECOND_FACTOR,
        {},
        id="r5-client-disabled-remember",
    ),
    pytest.param(
        {"device": make_device(created=7 * DAY), "client": ClientPolicy(remember_days=7)},
        Step.SECOND_FACTOR,
        {},
        id="r5-client-lowered-days",
    ),
    pytest.param(
        {
            "device": make_device(created=7 * DAY - SECOND),
            "client": ClientPolicy(remember_days=7),
        },
        Step.DONE,
        {"used_trusted_device": True},
        id="r5-client-lowered-days-not-yet",
    ),
    pytest.param(
        {"device": make_device(created=7 * DAY), "policy": GlobalPolicy(trust_ceiling_days=7)},
        Step.SECOND_FACTOR,
        {},
        id="r5-global-ceiling-lowered",
    ),
    pytest.param(
        {"device": make_device(), "session": make_session(verified(TOTP, MAX_AGE + SECOND))},
        Step.DONE,
        {"used_trusted_device": True},
        id="r5-stale-session-factor-device-still-valid",
    ),
    # acr_values.
    pytest.param(
        {"device": make_device(), "requirements": acr(Acr.MFA)},
        Step.SECOND_FACTOR,
        {"methods": (TOTP,)},
        id="acr-mfa-forces-fresh-factor-over-device",
    ),
    pytest.param(
        {"device": make_device(), "requirements": acr(Acr.REMEMBERED)},
        Step.DONE,
        {"used_trusted_device": True},
        id="acr-remembered-allows-device",
    ),
    pytest.param(
        {"device": make_device(), "requirements": acr(Acr.MFA, Acr.REMEMBERED)},
        Step.DONE,
        {"used_trusted_device": True},
        id="acr-weakest-requested-counts",
    ),
    pytest.param(
        {"device": make_device(), "requirements": acr("urn:other:gold")},
        Step.DONE,
        {"used_trusted_device": True},
        id="acr-unknown-voluntary-ignored",
    ),
    pytest.param(
        {"requirements": acr(Acr.MFA), **SIGNED_IN}, Step.DONE, {}, id="acr-mfa-session-fresh"
    ),
    pytest.param(
        {"requirements": acr(Acr.PHR, Acr.MFA), **SIGNED_IN},
        Step.DONE,
        {},
        id="acr-phr-or-mfa-accepts-mfa",
    ),
    pytest.param(
        {"requirements": acr("urn:other:gold", Acr.MFA, essential=True), **SIGNED_IN},
        Step.DONE,
        {},
        id="acr-essential-with-one-known-value",
    ),
    pytest.param(
        {"requirements": acr("urn:other:gold", essential=True), **SIGNED_IN},
        Step.ERROR,
        {"error": "unmet_authentication_requirements"},
        id="acr-essential-unknown-unmet",
    ),
    pytest.param(
        {"requirements": acr("urn:other:gold", essential=True), "session": None},
        Step.ERROR,
        {"error": "unmet_authentication_requirements"},
        id="acr-essential-unknown-unmet-before-password",
    ),
    pytest.param(
        {
            "user": make_user(TOTP, WEBAUTHN),
            "device": make_device(),
            "requirements": acr(Acr.PHR),
            **SIGNED_IN,
        },
        Step.SECOND_FACTOR,
        {"methods": (WEBAUTHN,)},
        id="acr-phr-needs-webauthn-not-totp",
    ),
    pytest.param(
        {
            "user": make_user(TOTP, WEBAUTHN),
            "requirements": acr(Acr.PHR),
            "session": make_session(FRESH_KEY),
        },
        Step.DONE,
        {},
        id="acr-phr-session-webauthn",
    ),
    pytest.param(
        {"requirements": acr(Acr.PHR, essential=True)},
        Step.SECOND_FACTOR,
        {"methods": (TOTP,)},
        id="acr-phr-totp-only-proves-totp-before-enrolling",
    ),
    pytest.param(
        {"requirements": acr(Acr.PHR, essential=True), **SIGNED_IN},
        Step.ENROLL,
        {"methods": (WEBAUTHN,)},
        id="acr-phr-totp-only-enrolls-webauthn",
    ),
    # Client mfa=phishing_resistant.
    pytest.param(
        {"client": PHISHING_RESISTANT},
        Step.SECOND_FACTOR,
        {"methods": (TOTP,)},
        id="pr-totp-only-proves-totp-before-enrolling",
    ),
    pytest.param(
        {"client": PHISHING_RESISTANT, **SIGNED_IN},
        Step.ENROLL,
        {"methods": (WEBAUTHN,)},
        id="pr-totp-only-enrolls-webauthn",
    ),
    pytest.param(
        {"client": PHISHING_RESISTANT, "session": make_session(verified(TOTP, MAX_AGE + SECOND))},
        Step.SECOND_FACTOR,
        {"methods": (TOTP,)},
        id="pr-stale-totp-does-not-unlock-enrollment",
    ),
    pytest.param(
        {"client": PHISHING_RESISTANT, "user": make_user(TOTP, WEBAUTHN), **SIGNED_IN},
        Step.SECOND_FACTOR,
        {"methods": (WEBAUTHN,)},
        id="pr-fresh-totp-not-enough",
    ),
    pytest.param(
        {
            "client": PHISHING_RESISTANT,
            "user": make_user(TOTP, WEBAUTHN),
            "session": make_session(FRESH_KEY),
        },
        Step.DONE,
        {},
        id="pr-fresh-webauthn",
    ),
    # prompt=none never shows a page.
    pytest.param(
        {"session": None, "requirements": Requirements(prompt_none=True)},
        Step.ERROR,
        {"error": "login_required", "methods": ()},
        id="none-no-session-login-required",
    ),
    pytest.param(
        {"requirements": Requirements(prompt_none=True, password_not_before=NOW), **SIGNED_IN},
        Step.ERROR,
        {"error": "login_required"},
        id="none-stale-password-login-required",
    ),
    pytest.param(
        {"user": make_user(disabled=True), "requirements": Requirements(prompt_none=True)},
        Step.ERROR,
        {"error": "login_required"},
        id="none-disabled-login-required",
    ),
    pytest.param(
        {"user": make_user(activated=False), "requirements": Requirements(prompt_none=True)},
        Step.ERROR,
        {"error": "interaction_required"},
        id="none-prove-email-interaction-required",
    ),
    pytest.param(
        {
            "user": UserState(USER_ID, activated=True, enrolled=frozenset(), last_used=None),
            "requirements": Requirements(prompt_none=True),
        },
        Step.ERROR,
        {"error": "interaction_required", "methods": ()},
        id="none-enroll-interaction-required",
    ),
    pytest.param(
        {"requirements": Requirements(prompt_none=True)},
        Step.ERROR,
        {"error": "interaction_required", "methods": ()},
        id="none-second-factor-interaction-required",
    ),
    pytest.param(
        {"client": PHISHING_RESISTANT, "requirements": Requirements(prompt_none=True)},
        Step.ERROR,
        {"error": "interaction_required"},
        id="none-phishing-resistant-totp-user",
    ),
    pytest.param(
        {"client": PHISHING_RESISTANT, "requirements": Requirements(prompt_none=True), **SIGNED_IN},
        Step.ERROR,
        {"error": "interaction_required"},
        id="none-phishing-resistant-enroll",
    ),
    pytest.param(
        {"requirements": acr("urn:other:gold", essential=True, prompt_none=True)},
        Step.ERROR,
        {"error": "unmet_authentication_requirements"},
        id="none-unmet-stays-unmet",
    ),
    pytest.param(
        {"requirements": Requirements(prompt_none=True), **SIGNED_IN},
        Step.DONE,
        {},
        id="none-fresh-session-done",
    ),
    pytest.param(
        {"requirements": Requirements(prompt_none=True), "device": make_device()},
        Step.DONE,
        {"used_trusted_device": True},
        id="none-trusted-device-done",
    ),
]


@pytest.mark.parametrize(("overrides", "step", "expected"), CASES)
def test_next_step(overrides: dict[str, Any], step: Step, expected: dict[str, Any]) -> None:
    """Each rule, its edges, and prompt=none's mapping of every step to an error."""
    decision = decide(**overrides)
    check(decision, overrides.get("requirements", Requirements()), step, **expected)


ALL = make_user(TOTP, EMAIL, RECOVERY, WEBAUTHN)


@pytest.mark.parametrize(
    ("user", "client", "methods"),
    [
        pytest.param(ALL, ClientPolicy(), (WEBAUTHN, TOTP, EMAIL, RECOVERY), id="no-last-used"),
        pytest.param(
            make_user(TOTP, EMAIL, RECOVERY, WEBAUTHN, last_used=EMAIL),
            ClientPolicy(),
            (EMAIL, WEBAUTHN, TOTP, RECOVERY),
            id="last-used-email-first",
        ),
        pytest.param(
            make_user(TOTP, EMAIL, RECOVERY, WEBAUTHN, last_used=TOTP),
            ClientPolicy(),
            (TOTP, WEBAUTHN, EMAIL, RECOVERY),
            id="last-used-totp-first",
        ),
        pytest.param(
            make_user(TOTP, EMAIL, RECOVERY, WEBAUTHN, last_used=RECOVERY),
            ClientPolicy(),
            (WEBAUTHN, TOTP, EMAIL, RECOVERY),
            id="recovery-code-never-the-default",
        ),
        pytest.param(
            make_user(TOTP, EMAIL, last_used=WEBAUTHN),
            ClientPolicy(),
            (TOTP, EMAIL),
            id="last-used-since-removed",
        ),
        pytest.param(
            make_user(TOTP, EMAIL, RECOVERY, WEBAUTHN, last_used=TOTP),
            PHISHING_RESISTANT,
            (WEBAUTHN,),
            id="phishing-resistant-only-webauthn",
        ),
    ],
)
def test_second_factor_methods(user: UserState, client: ClientPolicy, methods: tuple) -> None:
    """Rule 6: the enrolled methods that satisfy the policy, last used first."""
    decision = decide(user=user, client=client)
    assert decision.step is Step.SECOND_FACTOR
    assert decision.methods == methods


@pytest.mark.parametrize(
    ("user", "session", "device", "amr", "acr_value"),
    [
        pytest.param(
            make_user(),
            make_session(FRESH_TOTP),
            None,
            ("pwd", "otp", "totp", "mfa"),
            Acr.MFA,
            id="totp",
        ),
        pytest.param(
            make_user(WEBAUTHN),
            make_session(FRESH_KEY),
            None,
            ("pwd", "hwk", "user", "mfa"),
            Acr.PHR,
            id="webauthn-hwk-uv",
        ),
        pytest.param(
            make_user(TOTP, WEBAUTHN),
            make_session(FRESH_TOTP, verified(WEBAUTHN, MAX_AGE + SECOND)),
            None,
            ("pwd", "otp", "totp", "mfa"),
            Acr.MFA,
            id="stale-webauthn-not-claimed",
        ),
        pytest.param(
            make_user(TOTP, WEBAUTHN),
            make_session(verified(WEBAUTHN, be=True), FRESH_TOTP),
            None,
            ("pwd", "otp", "totp", "swk", "mfa"),
            Acr.PHR,
            id="totp-and-synced-passkey",
        ),
        pytest.param(
            make_user(),
            make_session(verified(Factor.PASSWORD), FRESH_TOTP),
            None,
            ("pwd", "otp", "totp", "mfa"),
            Acr.MFA,
            id="password-entry-not-duplicated",
        ),
        pytest.param(
            make_user(),
            make_session(verified(TOTP, MAX_AGE + SECOND)),
            make_device(),
            ("pwd",),
            Acr.REMEMBERED,
            id="trusted-device-claims-only-password",
        ),
    ],
)
def test_done_authentication(
    user: UserState,
    session: SessionState,
    device: TrustedDeviceState | None,
    amr: tuple[str, ...],
    acr_value: str,
) -> None:
    """Done carries amr of the counted factors, their acr, and the password's time."""
    decision = decide(user=user, session=session, device=device)
    assert decision.step is Step.DONE
    assert decision.authentication is not None
    assert decision.authentication.amr == amr
    assert decision.authentication.acr == acr_value
    assert decision.authentication.auth_time == PASSWORD_AT
    assert decision.used_trusted_device is (device is not None)


R5_CASES = [
    case
    for case in CASES
    if case.id.startswith("r5-") and set(case.values[0]) <= {"device", "client", "policy"}
]


@pytest.mark.parametrize(("overrides", "step", "expected"), R5_CASES)
def test_device_trusted_is_rule_5s_own_verdict(
    overrides: dict[str, Any], step: Step, expected: dict[str, Any]
) -> None:
    """What may lift the password throttle is exactly what rule 5 would skip a challenge for."""
    skipped = decide(**overrides).used_trusted_device
    assert skipped == (step is Step.DONE)
    trusted = device_trusted(
        overrides.get("device"),
        client=overrides.get("client", ClientPolicy()),
        policy=overrides.get("policy", GlobalPolicy()),
        now=NOW,
    )
    assert trusted == skipped


def test_reverification_due_reads_the_same_clock_as_next_step() -> None:
    """reverification_due and next_step agree on when a trusted device is challenged again."""
    policy = GlobalPolicy(reverify_days=7)
    due = make_device(created=8 * DAY, last_verified=7 * DAY)
    assert reverification_due(due, policy=policy, now=NOW)
    assert not reverification_due(due, policy=GlobalPolicy(), now=NOW)
    assert decide(device=due, policy=policy).step is Step.SECOND_FACTOR
    assert decide(device=due, policy=GlobalPolicy()).step is Step.DONE


@pytest.mark.parametrize(
    ("values", "level"),
    [
        pytest.param((), None, id="none"),
        pytest.param(("urn:other:gold",), None, id="unknown"),
        pytest.param((Acr.PHR, Acr.MFA), Acr.MFA, id="weakest"),
        pytest.param(("urn:other:gold", Acr.PHR), Acr.PHR, id="unknown-skipped"),
    ],
)
def test_requested_level(values: tuple[str, ...], level: Acr | None) -> None:
    """The weakest supported requested acr is the one to reach."""
    assert requested_level(Requirements(acr_values=values)) == level


def test_client_policy_rejects_unknown_mfa() -> None:
    """A misspelt client policy fails loudly instead of weakening to "any"."""
    with pytest.raises(ValueError, match="phishing-resistant"):
        ClientPolicy(mfa="phishing-resistant")


def test_states_accept_stored_strings() -> None:
    """Plain strings from rows become Factor members; unknown names fail."""
    assert VerifiedFactor("totp", at=NOW).factor is TOTP  # type: ignore[arg-type]
    user = UserState(USER_ID, True, frozenset({"webauthn"}), "webauthn")  # type: ignore[arg-type]
    assert user.enrolled == {WEBAUTHN}
    assert user.last_used is WEBAUTHN
    with pytest.raises(ValueError, match="sms"):
        VerifiedFactor("sms", at=NOW)  # type: ignore[arg-type]


PURE_MODULES = ("factors.py", "state.py", "policy.py")


@pytest.mark.parametrize("name", PURE_MODULES)
def test_policy_modules_are_pure(name: str) -> None:
    """STYLE.md: policy, factors and state import the standard library only, and read no clock."""
    tree = ast.parse((Path(idp.authn.__file__).parent / name).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            if isinstance(node, ast.Attribute):
                assert node.attr not in {"now", "utcnow", "today", "time"}, node.lineno
            continue
        for module in modules:
            top = module.split(".")[0]
            allowed = top in sys.stdlib_module_names or module in {
                "idp.authn.factors",
                "idp.authn.state",
            }
            assert allowed, f"{name} imports {module}"
