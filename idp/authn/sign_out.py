"""Signing a user out everywhere: browser sessions, access and refresh tokens, device trust."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete

from idp import audit
from idp.authn import session_end
from idp.database import changed_rows, commit_unless_in_request
from idp.models.session import SessionRecord
from idp.models.token import Token
from idp.models.trusted_device import TrustedDevice


@dataclass(frozen=True, slots=True)
class SignedOut:
    """How much ended, for the audit trail."""

    sessions_ended: int
    tokens_revoked: int
    trusted_devices_revoked: int

    def detail(self) -> dict[str, Any]:
        """The counts as audit detail."""
        return asdict(self)


def end_everything(
    user_id: int, *, at: datetime, reason: str, keep_session: str | None = None
) -> SignedOut:
    """End sessions (all but `keep_session`), tokens and trust; the caller audits and commits.

    The clients those sessions served are queued a back-channel logout token each.
    """
    sessions = delete(SessionRecord).where(SessionRecord.user_id == user_id)
    keep_sid = None
    if keep_session:
        sessions = sessions.where(SessionRecord.id_hash != keep_session)
        keep_sid = session_end.sid_of_hash(keep_session) or None
    ended = changed_rows(sessions)
    session_end.announce(user_id, reason=reason, at=at, keep_sid=keep_sid)
    return SignedOut(
        sessions_ended=ended,
        # DESIGN.md: the tokens die with the trust that issued them, not at their expiry.
        tokens_revoked=Token.revoke_where(Token.user_id == user_id),
        trusted_devices_revoked=TrustedDevice.revoke_where(
            TrustedDevice.user_id == user_id, at=at, reason=reason
        ),
    )


def sign_out_everywhere(
    user_id: int, *, at: datetime, reason: str, keep_session: str | None = None
) -> SignedOut:
    """End everything the user is signed in with, audit why, and commit."""
    ended = end_everything(user_id, at=at, reason=reason, keep_session=keep_session)
    audit.record(
        "session.signed_out_everywhere",
        user_id=user_id,
        commit=False,
        reason=reason,
        **ended.detail(),
    )
    commit_unless_in_request()
    return ended
