"""Passkey sign-in: a user-verifying passkey stands for both steps, and amr says so honestly."""

from __future__ import annotations

from datetime import datetime, timedelta

from idp.authn.factors import Factor
from idp.authn.policy import next_step
from idp.authn.state import (
    ClientPolicy,
    GlobalPolicy,
    Requirements,
    SessionState,
    Step,
    UserState,
    VerifiedFactor,
)

NOW = datetime(2026, 11, 28, 12, 0, 0)
USER = UserState(user_id=1, activated=True, enrolled=frozenset({Factor.WEBAUTHN}), last_used=None)


def passkey_session(*, uv: bool = True, age: timedelta = timedelta(0)) -> SessionState:
    at = NOW - age
    factor = VerifiedFactor(Factor.WEBAUTHN, at=at, user_verified=uv, backup_eligible=True)
    return SessionState(user_id=1, password_at=at, factors=(factor,), password_verified=False)


def decide(session: SessionState, client: ClientPolicy | None = None, **req: object):
    return next_step(
        user=USER,
        session=session,
        device=None,
        client=client or ClientPolicy(),
        requirements=Requirements(**req),
        policy=GlobalPolicy(),
        now=NOW,
    )


def test_passkey_sign_in_is_done_without_claiming_a_password():
    decision = decide(passkey_session())
    assert decision.step is Step.DONE
    assert decision.authentication.amr == ("swk", "user", "mfa")
    assert decision.authentication.acr == "urn:idp:acr:phr"


def test_a_client_that_refuses_passkey_sign_in_asks_for_the_password():
    decision = decide(passkey_session(), ClientPolicy(passkey_signin=False))
    assert decision.step is Step.PASSWORD


def test_a_passkey_sign_in_that_aged_out_asks_for_the_first_step_again():
    decision = decide(passkey_session(age=timedelta(hours=12, seconds=1)))
    assert decision.step is Step.PASSWORD


def test_without_user_verification_it_is_not_a_sign_in():
    assert decide(passkey_session(uv=False)).step is Step.PASSWORD


def test_prompt_login_still_asks_again():
    assert decide(passkey_session(), password_not_before=NOW + timedelta(seconds=1)).step is (
        Step.PASSWORD
    )
