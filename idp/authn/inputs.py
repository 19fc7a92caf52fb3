"""Builds the sign-in policy's inputs from stored users, clients and settings."""

from __future__ import annotations

from datetime import timedelta

from idp.authn.factors import Factor
from idp.authn.state import ClientPolicy, GlobalPolicy, UserState
from idp.config import Settings
from idp.models.client import Client
from idp.models.second_factor import stored_factors
from idp.models.user import User


def account_policy(settings: Settings) -> ClientPolicy:
    """The account pages: any second factor, never skipped by a trusted device."""
    return ClientPolicy(
        mfa="any",
        remember_device=False,
        remember_days=1,
        passkey_signin=settings.passkey_signin,
        passkey_offer=settings.passkey_offer,
    )


def policy_for(client: Client | None, settings: Settings) -> ClientPolicy:
    """The client's policy in a sign-in for it, else the account pages' (global switches)."""
    return client_policy(client, settings) if client is not None else account_policy(settings)


def enrolled_factors(user: User) -> frozenset[Factor]:
    """The second factors a user has set up (recovery codes included)."""
    stored = stored_factors(user.id)
    found: set[Factor] = set()
    if stored.totp:
        found.add(Factor.TOTP)
    if user.email_factor_at is not None:
        found.add(Factor.EMAIL_CODE)
    if stored.webauthn:
        found.add(Factor.WEBAUTHN)
    if stored.recovery_code:
        found.add(Factor.RECOVERY_CODE)
    return frozenset(found)


def last_used_factor(user: User) -> Factor | None:
    """The second factor the user verified most recently."""
    try:
        return Factor(user.last_factor) if user.last_factor else None
    except ValueError:
        return None


def user_state(user: User) -> UserState:
    """The user as the policy sees them."""
    return UserState(
        user_id=user.id,
        activated=user.activated_at is not None,
        enrolled=enrolled_factors(user),
        last_used=last_used_factor(user),
        disabled=not user.is_active,
    )


def client_policy(client: Client, settings: Settings) -> ClientPolicy:
    """A client's sign-in settings, its days capped by the global ceiling."""
    return ClientPolicy(
        mfa=client.mfa_policy,
        remember_device=client.remember_device,
        remember_days=max(1, min(client.remember_days, settings.trust_ceiling_days)),
        passkey_signin=client.passkey_signin and settings.passkey_signin,
        passkey_offer=bool(client.passkey_offer) and settings.passkey_offer,
    )


def global_policy(settings: Settings) -> GlobalPolicy:
    """Provider-wide sign-in settings."""
    return GlobalPolicy(
        session_mfa_max_age=timedelta(hours=settings.session_mfa_max_age_hours),
        reverify_days=settings.reverify_days or None,
        trust_ceiling_days=settings.trust_ceiling_days,
    )
