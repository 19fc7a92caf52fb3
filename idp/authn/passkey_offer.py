"""The user's answers to "Sign in faster with a passkey": not now, or don't ask again."""

from __future__ import annotations

from datetime import datetime, timedelta

from idp import audit
from idp.database import commit_unless_in_request
from idp.models.user import User


def snooze(user: User, *, at: datetime, days: int, client_id: str | None) -> None:
    """ "Not now": the offer stays away for `days`."""
    user.passkey_offer_snoozed_until = at + timedelta(days=max(1, days))
    audit.record("passkey_offer.snoozed", user_id=user.id, client_id=client_id, commit=False)
    commit_unless_in_request()


def decline(user: User, *, at: datetime, client_id: str | None) -> None:
    """ "Don't ask again": saved on the account, for every browser and app."""
    user.passkey_offer_declined_at = at
    audit.record("passkey_offer.declined", user_id=user.id, client_id=client_id, commit=False)
    commit_unless_in_request()
