"""The user's consent to a client's scopes (OIDC Core 3.1.2.4): kept, listed, withdrawn, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update

from idp import audit
from idp.database import changed_rows, commit_unless_in_request
from idp.extensions import db
from idp.models.authorization_code import AuthorizationCode
from idp.models.client import Client
from idp.models.consent import Consent
from idp.models.token import Token


@dataclass(frozen=True)
class ConnectedApp:
    """A client the user agreed to share scopes with, for the account page."""

    client_id: str
    name: str
    scopes: list[str]
    granted_at: datetime


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
    commit_unless_in_request()


def deny(user_id: int, client_id: str) -> None:
    """The user said no: nothing is recorded but the audit event."""
    audit.record("consent.denied", user_id=user_id, client_id=client_id)


def connected_apps(user_id: int) -> list[ConnectedApp]:
    """The clients the user consented to, with what each may see and since when."""
    apps = []
    for consent in Consent.of_user(user_id):
        client = Client.by_client_id(consent.client_id)
        name = client.name if client else consent.client_id
        apps.append(ConnectedApp(consent.client_id, name, consent.scopes, consent.granted_at))
    return apps


def revoke(user_id: int, client_id: str, *, at: datetime) -> bool:
    """Withdraw the user's consent to a client: its tokens and unredeemed codes stop working.

    The next authorization by the client asks for consent again (OIDC Core 3.1.2.4).
    False when there was no consent to withdraw.
    """
    existing = Consent.find(user_id, client_id)
    if existing is None:
        return False
    db.session.delete(existing)
    tokens = Token.revoke_where(Token.user_id == user_id, Token.client_id == client_id)
    # A code issued before the withdrawal would otherwise still buy fresh tokens; redeeming
    # one marked used is treated as a replay (RFC 6749 4.1.2).
    codes = changed_rows(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.user_id == user_id,
            AuthorizationCode.client_id == client_id,
            AuthorizationCode.used_at.is_(None),
        )
        .values(used_at=at)
    )
    audit.record(
        "consent.revoked",
        user_id=user_id,
        client_id=client_id,
        commit=False,
        tokens_revoked=tokens,
        codes_revoked=codes,
    )
    commit_unless_in_request()
    return True
