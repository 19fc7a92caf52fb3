"""The sign-in policy's inputs (user, session, device, policies, request) and its answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from idp.authn.factors import Factor


class MfaPolicy(StrEnum):
    """A client's second-factor policy (DESIGN.md "Policies")."""

    ANY = "any"
    PHISHING_RESISTANT = "phishing_resistant"


class Step(StrEnum):
    """What the sign-in must do next."""

    PASSWORD = "password"
    PROVE_EMAIL = "prove_email"
    ENROLL = "enroll"
    SECOND_FACTOR = "second_factor"
    CONSENT = "consent"
    DONE = "done"
    ERROR = "error"


class ErrorCode(StrEnum):
    """OIDC error codes a Step.ERROR carries."""

    # OIDC Core 3.1.2.6; the last one is from OpenID Connect Unmet Authentication Requirements 1.0.

    LOGIN_REQUIRED = "login_required"
    INTERACTION_REQUIRED = "interaction_required"
    CONSENT_REQUIRED = "consent_required"
    UNMET_AUTHENTICATION_REQUIREMENTS = "unmet_authentication_requirements"


@dataclass(frozen=True, slots=True)
class VerifiedFactor:
    """One factor verified in a browser session, and when."""

    factor: Factor
    at: datetime
    # WebAuthn authenticator data flags UV and BE (WebAuthn Level 3, 6.1); False for the others.
    user_verified: bool = False
    backup_eligible: bool = False
    # Bound in this sign-in rather than proven by it: a registration, or a recovery code from a
    # set minted in this session. It counts as a second factor, never as a strong or
    # phishing-resistant proof (DESIGN.md "Recovery and new factors").
    new: bool = False

    def __post_init__(self) -> None:
        # Rows and session JSON hold plain strings; an unknown name fails here, not in a branch.
        object.__setattr__(self, "factor", Factor(self.factor))


@dataclass(frozen=True, slots=True)
class UserState:
    """What the policy needs to know about a user; `enrolled` holds second factors only."""

    user_id: int
    activated: bool
    enrolled: frozenset[Factor]
    last_used: Factor | None
    disabled: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "enrolled", frozenset(Factor(f) for f in self.enrolled))
        if self.last_used is not None:
            object.__setattr__(self, "last_used", Factor(self.last_used))


@dataclass(frozen=True, slots=True)
class SessionState:
    """The browser session: its password time and the second factors verified in it."""

    user_id: int
    # When the first step happened: the password, or a passkey sign-in.
    password_at: datetime
    # PASSWORD entries are tolerated and ignored: password_at is the password's record.
    factors: tuple[VerifiedFactor, ...] = ()
    # False after "Sign in with a passkey": no password was typed, so amr must not say pwd.
    password_verified: bool = True


@dataclass(frozen=True, slots=True)
class TrustedDeviceState:
    """The trusted-device record for (user, client, this device)."""

    created_at: datetime
    expires_at: datetime
    last_verified_at: datetime
    # The browser and OS still match the ones trusted; False suggests a copied cookie.
    agent_matches: bool


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    """A client's sign-in settings (DESIGN.md "Policies")."""

    mfa: str = MfaPolicy.ANY
    remember_device: bool = True
    remember_days: int = 30
    # A user-verifying passkey may stand in for password and second factor together.
    passkey_signin: bool = True
    # After a sign-in with a code, offer once to create a passkey.
    passkey_offer: bool = True

    def __post_init__(self) -> None:
        # A typo ("phishing-resistant") must fail loudly, never silently weaken to "any".
        MfaPolicy(self.mfa)


@dataclass(frozen=True, slots=True)
class GlobalPolicy:
    """Provider-wide sign-in settings (DESIGN.md "Policies" and "Trusted devices")."""

    session_mfa_max_age: timedelta = timedelta(hours=12)
    reverify_days: int | None = None
    trust_ceiling_days: int = 30


@dataclass(frozen=True, slots=True)
class Requirements:
    """What the authorization request asks for, as oidc/requirements.py computes it.

    password_not_before comes from prompt=login (the request's start) and max_age (start
    minus max_age); acr_values from `acr_values` or the `claims` parameter's acr.
    """

    prompt_none: bool = False
    password_not_before: datetime | None = None
    acr_values: tuple[str, ...] = ()
    acr_essential: bool = False


@dataclass(frozen=True, slots=True)
class Authentication:
    """A finished sign-in: the one value the protocol layer receives (who, amr, acr, auth_time)."""

    user_id: int
    amr: tuple[str, ...]
    acr: str
    # DESIGN.md: auth_time is the password's time, whatever second factor followed.
    auth_time: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer: a step and why, plus the methods, the authentication or the error."""

    step: Step
    reason: str
    # SECOND_FACTOR: enrolled methods to offer, default (last used) first. ENROLL: what may be
    # enrolled to satisfy the policy.
    methods: tuple[Factor, ...] = ()
    authentication: Authentication | None = None
    error: str | None = None
    # True when a trusted device skipped the second factor: the caller records the device's use.
    used_trusted_device: bool = False
