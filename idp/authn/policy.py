"""PURE: next_step(...) decides what a sign-in still needs (DESIGN.md "The decision", rules 1-6)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from idp.authn.factors import ACR_VALUES_SUPPORTED, Acr, Factor, acr_for, amr_for
from idp.authn.state import (
    Authentication,
    ClientPolicy,
    Decision,
    ErrorCode,
    GlobalPolicy,
    MfaPolicy,
    Requirements,
    SessionState,
    Step,
    TrustedDeviceState,
    UserState,
    VerifiedFactor,
)

# Offer order after the last-used method: strongest first, and recovery codes, a single-use
# fallback, last. A recovery code is never the default, even when it was used last.
_PREFERENCE = (Factor.WEBAUTHN, Factor.TOTP, Factor.EMAIL_CODE, Factor.RECOVERY_CODE)
# Recovery codes are issued after the first factor (rule 3), never enrolled.
_ENROLLABLE = (Factor.TOTP, Factor.EMAIL_CODE, Factor.WEBAUTHN)
_FRESH_LEVELS = (Acr.MFA, Acr.PHR)
# A password reset link proves the mailbox; the reset needs a factor that lives elsewhere.
_OUTSIDE_MAILBOX = (Factor.WEBAUTHN, Factor.TOTP, Factor.RECOVERY_CODE)


def next_step(
    *,
    user: UserState | None,
    session: SessionState | None,
    device: TrustedDeviceState | None,
    client: ClientPolicy,
    requirements: Requirements,
    policy: GlobalPolicy,
    now: datetime,
) -> Decision:
    """The next sign-in step, or done with amr, acr and auth_time; rules 1-6 in order."""
    decision = _decide(user, session, device, client, requirements, policy, now)
    if requirements.prompt_none and decision.step not in (Step.DONE, Step.ERROR):
        # OIDC Core 3.1.2.1 prompt=none: never show a page; 3.1.2.6 names the errors.
        code = (
            ErrorCode.LOGIN_REQUIRED
            if decision.step is Step.PASSWORD
            else ErrorCode.INTERACTION_REQUIRED
        )
        return Decision(Step.ERROR, f"prompt=none: {decision.reason}", error=code)
    return decision


def consent_step(decision: Decision, *, needed: bool, prompt_none: bool) -> Decision:
    """After the sign-in: the consent page when it is due; prompt=none can't show it.

    OIDC Core 3.1.2.6: consent_required when the user must consent and no page may be shown.
    """
    if decision.step is not Step.DONE or not needed:
        return decision
    if prompt_none:
        return Decision(Step.ERROR, "prompt=none: consent needed", error=ErrorCode.CONSENT_REQUIRED)
    return Decision(Step.CONSENT, "consent needed", authentication=decision.authentication)


def reverification_due(device: TrustedDeviceState, *, policy: GlobalPolicy, now: datetime) -> bool:
    """True if reverify_days is set and the device's last second factor is that old."""
    if policy.reverify_days is None:
        return False
    return now - device.last_verified_at >= timedelta(days=policy.reverify_days)


def requested_level(requirements: Requirements) -> Acr | None:
    """The weakest supported acr the request names, or None when it names none we know."""
    # acr_values lists acceptable levels; since a stronger level satisfies a weaker request,
    # reaching the weakest named one satisfies the request. Unknown values are voluntary noise.
    known = [Acr(value) for value in requirements.acr_values if value in ACR_VALUES_SUPPORTED]
    return min(known, key=ACR_VALUES_SUPPORTED.index, default=None)


def _decide(
    user: UserState | None,
    session: SessionState | None,
    device: TrustedDeviceState | None,
    client: ClientPolicy,
    requirements: Requirements,
    policy: GlobalPolicy,
    now: datetime,
) -> Decision:
    level = requested_level(requirements)
    if requirements.acr_essential and requirements.acr_values and level is None:
        # OIDC Core 5.5.1.1: an essential acr we cannot return fails the request; no sign-in
        # can reach a level we do not have, so say so before asking for a password.
        return Decision(
            Step.ERROR,
            "no essential acr value is supported",
            error=ErrorCode.UNMET_AUTHENTICATION_REQUIREMENTS,
        )

    # Rule 1: no session, prompt=login or max_age elapsed.
    reason = _password_needed(user, session, client, requirements, policy, now)
    if reason is not None or user is None or session is None:  # (the last two: for mypy)
        return Decision(Step.PASSWORD, reason or "no session")

    # Rule 2: a leaked password alone must not be able to bind a factor.
    if not user.activated:
        return Decision(Step.PROVE_EMAIL, "account never activated")

    needs_webauthn = client.mfa == MfaPolicy.PHISHING_RESISTANT or level is Acr.PHR
    enrolled = {factor for factor in user.enrolled if factor.is_second_factor}
    fresh = _fresh_factors(session, policy, now)

    # Rule 3: recovery codes alone are not an enrolled factor (they follow the first one).
    if not enrolled - {Factor.RECOVERY_CODE}:
        return _enroll(user, enrolled, fresh, needs_webauthn, "no second factor enrolled")

    # Rule 4: a fresh session factor that satisfies the client's policy and the requested acr.
    if any(_proves(f, needs_webauthn) for f in fresh):
        return _done(user, session, fresh, "session holds a fresh second factor")

    # Rule 5: a requested mfa or phr means a second factor verified now (RFC 9470 step-up).
    problem = _device_problem(device, client, policy, now)
    if problem is None and level not in _FRESH_LEVELS:
        return _remembered(user, session)

    # Rule 6: challenge with what satisfies the policy; enroll if nothing enrolled does.
    why = "requested acr needs a fresh second factor" if problem is None else problem
    methods = _ordered((f for f in enrolled if _satisfies(f, needs_webauthn)), user.last_used)
    if methods:
        return Decision(Step.SECOND_FACTOR, why, methods=methods)
    return _enroll(user, enrolled, fresh, needs_webauthn, "no enrolled factor satisfies the policy")


def _password_needed(
    user: UserState | None,
    session: SessionState | None,
    client: ClientPolicy,
    requirements: Requirements,
    policy: GlobalPolicy,
    now: datetime,
) -> str | None:
    """Rule 1: why the password must be asked (again), or None. A disabled account or a
    session of another user counts as no session."""
    if user is None or session is None:
        return "no session"
    if user.disabled:
        return "account disabled"
    if session.user_id != user.user_id:
        return "session belongs to another user"
    not_before = requirements.password_not_before
    if not_before is not None and session.password_at < not_before:
        return "password older than prompt=login or max_age allows"
    if not session.password_verified:
        if not client.passkey_signin:
            return "client does not accept passkey sign-in"
        if not any(_passkey_signin(f) for f in _fresh_factors(session, policy, now)):
            # The passkey stood for both steps; once it ages out, so has the first step.
            return "passkey sign-in no longer fresh"
    return None


def _remembered(user: UserState, session: SessionState) -> Decision:
    """Rule 5's answer: done on the password alone, the trusted device standing in."""
    password = VerifiedFactor(Factor.PASSWORD, at=session.password_at)
    authentication = Authentication(
        user_id=user.user_id,
        # DESIGN.md: never claim a factor that was not verified now.
        amr=tuple(amr_for([password])),
        acr=acr_for([password], remembered=True),
        auth_time=session.password_at,
    )
    return Decision(
        Step.DONE, "trusted device", authentication=authentication, used_trusted_device=True
    )


def _passkey_signin(factor: VerifiedFactor) -> bool:
    return factor.factor is Factor.WEBAUTHN and factor.user_verified


def _satisfies(factor: Factor, needs_webauthn: bool) -> bool:
    return factor is Factor.WEBAUTHN or (factor.is_second_factor and not needs_webauthn)


def _proves(factor: VerifiedFactor, needs_webauthn: bool) -> bool:
    # A key registered in this sign-in is bound, not proven: only an assertion is phr proof.
    if needs_webauthn:
        return factor.factor is Factor.WEBAUTHN and not factor.new
    return factor.factor.is_second_factor


def _fresh_factors(
    session: SessionState, policy: GlobalPolicy, now: datetime
) -> tuple[VerifiedFactor, ...]:
    # Rule 4: a factor counts up to and including session_mfa_max_age; older ones do not.
    # Rule 1: a re-authentication starts afresh, so factors from before it never count.
    return tuple(
        f
        for f in session.factors
        if f.factor.is_second_factor
        and f.at >= session.password_at
        and now - f.at <= policy.session_mfa_max_age
    )


def _ordered(methods: Iterable[Factor], last_used: Factor | None) -> tuple[Factor, ...]:
    # Rule 6: "the user picks (default: the one used last)".
    available = set(methods)
    order = sorted(available, key=_PREFERENCE.index)
    if last_used in available and last_used is not Factor.RECOVERY_CODE:
        order.remove(last_used)
        order.insert(0, last_used)
    return tuple(order)


def _enroll(
    user: UserState,
    enrolled: set[Factor],
    fresh: tuple[VerifiedFactor, ...],
    needs_webauthn: bool,
    why: str,
) -> Decision:
    if enrolled and not fresh:
        # Rule 2's reason holds for every enrollment: a password alone never binds a factor.
        # A user who already holds one (recovery codes included) proves it first.
        return Decision(
            Step.SECOND_FACTOR,
            f"{why}: verify an enrolled factor before enrolling another",
            methods=_ordered(enrolled, user.last_used),
        )
    methods = (Factor.WEBAUTHN,) if needs_webauthn else _ENROLLABLE
    return Decision(Step.ENROLL, why, methods=methods)


def _done(
    user: UserState, session: SessionState, fresh: tuple[VerifiedFactor, ...], why: str
) -> Decision:
    password = (VerifiedFactor(Factor.PASSWORD, at=session.password_at),)
    verified = (*(password if session.password_verified else ()), *fresh)
    authentication = Authentication(
        user_id=user.user_id,
        amr=tuple(amr_for(verified)),
        acr=acr_for(verified, remembered=False),
        auth_time=session.password_at,
    )
    return Decision(Step.DONE, why, authentication=authentication)


def _device_problem(
    device: TrustedDeviceState | None,
    client: ClientPolicy,
    policy: GlobalPolicy,
    now: datetime,
) -> str | None:
    # DESIGN.md "Trusted devices"; the reason becomes the second-factor step's reason.
    if device is None:
        return "no trusted device"
    if not client.remember_device:
        return "client does not allow remembered devices"
    if client.mfa == MfaPolicy.PHISHING_RESISTANT:
        # Rule 5: a remembered device proves nothing phishing-resistant about this sign-in.
        return "client requires phishing resistance"
    # Trust is absolute, not sliding: at expires_at it has ended.
    if now >= device.expires_at:
        return "trusted device expired"
    # The client may have lowered its days, or the ceiling dropped, since the device was trusted.
    days = min(client.remember_days, policy.trust_ceiling_days)
    if now >= device.created_at + timedelta(days=days):
        return "trusted device older than the client's remember_days"
    if not device.agent_matches:
        return "browser or OS differs from the trusted one"
    if reverification_due(device, policy=policy, now=now):
        return "trusted device due for re-verification"
    return None


def device_trusted(
    device: TrustedDeviceState | None,
    *,
    client: ClientPolicy,
    policy: GlobalPolicy,
    now: datetime,
) -> bool:
    """True if rule 5 would accept this trusted device for the client (live, not expired, the
    client allows it, same browser and OS, re-verification not due): what may also lift the
    password throttle, so a copied device cookie lifts nothing rule 5 would not honour."""
    return _device_problem(device, client, policy, now) is None


def remember_days_offered(client: ClientPolicy) -> int | None:
    """N for "Do not challenge me on this device for N days"; None when rule 5 can never skip."""
    if not client.remember_device or client.mfa == MfaPolicy.PHISHING_RESISTANT:
        return None
    return client.remember_days


# Strength, step-up and recovery (DESIGN.md "Recovery and new factors") -----------------
class StepUp(StrEnum):
    """Pages that ask for a recent second factor before a change."""

    ACCOUNT = "account"
    ADMIN = "admin"


# How recent the second factor must be: the account's security page, the admin console.
STEP_UP_WINDOWS: dict[StepUp, timedelta] = {
    StepUp.ACCOUNT: timedelta(minutes=10),
    StepUp.ADMIN: timedelta(minutes=15),
}


# The kinds that can be strong (DESIGN.md "Recovery and new factors"), when not bound now.
_STRONG_KINDS = (Factor.WEBAUTHN, Factor.RECOVERY_CODE)
# A code from the mailbox confirms a user's first key for this long.
MAILBOX_CONFIRMATION = timedelta(minutes=15)


def is_strong(factor: VerifiedFactor) -> bool:
    """WebAuthn or a recovery code issued before this session; one rule for every page."""
    return factor.factor in _STRONG_KINDS and not factor.new


def step_up_methods(enrolled: frozenset[Factor], *, strong: bool) -> tuple[Factor, ...]:
    """What a step-up offers, strongest first (recovery codes last); only strong kinds if asked."""
    kinds = _STRONG_KINDS if strong else _PREFERENCE
    return tuple(f for f in _PREFERENCE if f in kinds and f in enrolled)


def step_up_satisfied(
    session: SessionState | None, *, purpose: StepUp, strong: bool, now: datetime
) -> bool:
    """True if the session holds a second factor recent enough for `purpose` (strong if asked)."""
    if session is None:
        return False
    cutoff = now - STEP_UP_WINDOWS[purpose]
    return any(
        f.factor.is_second_factor
        and f.at >= session.password_at
        and f.at >= cutoff
        and (is_strong(f) or not strong)
        for f in session.factors
    )


class Change(StrEnum):
    """Security changes a signed-in user makes to their own account."""

    ADD_WEBAUTHN = "add_webauthn"
    ADD_OTHER = "add_other"
    REMOVE_WEBAUTHN = "remove_webauthn"
    REMOVE_OTHER = "remove_other"
    NEW_RECOVERY_CODES = "new_recovery_codes"


def needs_strong_step_up(change: Change, enrolled: frozenset[Factor]) -> bool:
    """True if `change` needs a strong factor: a phishable one must not undo or mint a strong one.

    Removing a key, adding a second key and minting recovery codes (strong in later sessions)
    while a key protects the account all need a key or an older recovery code.
    """
    if change is Change.REMOVE_WEBAUTHN:
        return True
    if change in (Change.ADD_WEBAUTHN, Change.NEW_RECOVERY_CODES):
        return Factor.WEBAUTHN in enrolled
    return False


def first_key_needs_confirmation(
    enrolled: frozenset[Factor],
    *,
    trusted_browser: bool,
    mailbox_confirmed_at: datetime | None,
    now: datetime,
) -> bool:
    """A user's first key needs a recent mailbox confirmation or a browser already trusted.

    A phishable session (password + code) must not bind the factor that would make it
    phishing-resistant on its own.
    """
    if Factor.WEBAUTHN in enrolled or trusted_browser:
        return False
    confirmed = mailbox_confirmed_at is not None and now - mailbox_confirmed_at <= (
        MAILBOX_CONFIRMATION
    )
    return not confirmed


_CODES = (Factor.TOTP, Factor.EMAIL_CODE, Factor.RECOVERY_CODE)


def passkey_offer_due(
    *,
    used: Factor,
    enrolled: frozenset[Factor],
    offer_on: bool,
    prompt_none: bool,
    declined: bool,
    snoozed_until: datetime | None,
    now: datetime,
) -> bool:
    """After a sign-in with a code, is "Sign in faster with a passkey" shown?

    Not to a user who has a key already, said "Don't ask again", or said "Not now" recently;
    not when the client or the provider turned it off; never under prompt=none. A first key
    made from the offer still needs the mailbox or a trusted browser (first_key_needs_confirmation).
    """
    if used not in _CODES or Factor.WEBAUTHN in enrolled:
        return False
    if not offer_on or prompt_none or declined:
        return False
    return snoozed_until is None or now >= snoozed_until


class ResetPath(StrEnum):
    """How a password reset link goes on once opened."""

    FACTOR = "factor"  # prove a factor outside the mailbox
    COOLING_OFF = "cooling_off"  # only the mailbox: wait, announced, cancellable
    LINK_ONLY = "link_only"  # no second factor at all yet: the link is all there is


def reset_methods(enrolled: frozenset[Factor]) -> tuple[Factor, ...]:
    """Factors the reset page accepts: never an email code, since the link proved the mailbox."""
    return tuple(f for f in _OUTSIDE_MAILBOX if f in enrolled)


def reset_path(enrolled: frozenset[Factor]) -> ResetPath:
    """Which way a reset goes for a user with these factors."""
    if reset_methods(enrolled):
        return ResetPath.FACTOR
    if Factor.EMAIL_CODE in enrolled:
        return ResetPath.COOLING_OFF
    return ResetPath.LINK_ONLY


# Failed attempts (NIST SP 800-63B 5.2.2) -------------------------------------------------
@dataclass(frozen=True, slots=True)
class Backoff:
    """Progressive delays after consecutive failures, then a hard cap.

    `free` failures cost nothing; each one after waits twice as long as the one before, from
    `first` up to `ceiling`; at `cap` consecutive failures no more attempts are checked until
    something else proves the user (a success elsewhere, a reset, an admin's unlock).
    """

    free: int = 5
    first: timedelta = timedelta(seconds=1)
    ceiling: timedelta = timedelta(minutes=15)
    cap: int = 100


@dataclass(frozen=True, slots=True)
class Throttled:
    """Why an attempt is not checked: wait `retry_after`, or `capped` (no waiting helps)."""

    retry_after: timedelta
    capped: bool = False


def throttled(
    failures: int, last_failure_at: datetime | None, backoff: Backoff, *, now: datetime
) -> Throttled | None:
    """None when the next attempt may be checked now; otherwise how it is held back."""
    if failures >= backoff.cap:
        return Throttled(timedelta(0), capped=True)
    if failures < backoff.free or last_failure_at is None:
        return None
    wait = min(backoff.first * 2 ** (failures - backoff.free), backoff.ceiling)
    left = last_failure_at + wait - now
    return Throttled(left) if left > timedelta(0) else None
