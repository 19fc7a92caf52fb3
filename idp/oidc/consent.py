"""The user's consent to a client's scopes (OIDC Core 3.1.2.4): recorded, audited."""

from __future__ import annotations

from idp import audit
from idp.extensions import db
from idp.models.consent import Consent


def grant(user_id: int, client_id: str, scopes: list[str]) -> None:
    """The user allowed these scopes; earlier grants to the client are kept (they only grow)."""
    existing = Consent.find(user_id, client_id)
    if existing is None:
        existing = Consent(user_id=user_id, client_id=client_id, scopes=[])
        db.session.add(existing)
    existing.scopes = sorted(set(existing.scopes) | set(scopes))
    audit.record(
        "consent.granted", user_id=user_id, client_id=client_id, commit=False, scopes=scopes
    )
    db.session.commit()


def deny(user_id: int, client_id: str) -> None:
    """The user said no: nothing is recorded but the audit event."""
    audit.record("consent.denied", user_id=user_id, client_id=client_id)
