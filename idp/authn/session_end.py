"""When browser sessions end, the clients they served are owed a logout (OIDC Back-Channel
Logout 1.0): one queued delivery per (session, client) with a back-channel URI.

Every event that ends a session calls `announce` in its own transaction: sign-out, sign out
everywhere, expiry (found or swept), an admin's disable or MFA reset, password change or reset.
The session's `session_clients` rows are consumed as they are announced, so a session that
ends twice over (sign out everywhere, then this browser's own sign-out) logs a client out once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from idp.database import changed_rows
from idp.extensions import db
from idp.models.client import Client
from idp.models.logout_delivery import QUEUED, LogoutDelivery
from idp.models.session import SessionRecord
from idp.models.session_client import SessionClient
from idp.models.user import User


@dataclass(frozen=True, slots=True)
class EndedFor:
    """A client told (or to be told) that session `sid` ended."""

    client: Client
    sid: str


def served(*, sid: str, user_id: int, client_id: str, at: datetime) -> None:
    """A code was issued to `client_id` in session `sid`: it hears when the session ends."""
    if sid:
        SessionClient.note(sid=sid, user_id=user_id, client_id=client_id, at=at)


def announce(
    user_id: int,
    *,
    reason: str,
    at: datetime,
    sids: Iterable[str] | None = None,
    keep_sid: str | None = None,
) -> list[EndedFor]:
    """Queue logout tokens for the user's ended sessions `sids` (None: all but `keep_sid`).

    Returns every (client, sid) the sessions served, back-channel or not (the signed-out page
    renders front-channel iframes from it). The caller commits.
    """
    query = select(SessionClient).where(SessionClient.user_id == user_id)
    if sids is not None:
        wanted = [s for s in sids if s]
        if not wanted:
            return []
        query = query.where(SessionClient.sid.in_(wanted))
    if keep_sid:
        query = query.where(SessionClient.sid != keep_sid)
    rows = list(db.session.scalars(query.order_by(SessionClient.first_at, SessionClient.id)))
    if not rows:
        return []
    user = db.session.get(User, user_id)
    ended: list[EndedFor] = []
    for row in rows:
        client = Client.by_client_id(row.client_id)
        if client is None:
            continue
        ended.append(EndedFor(client=client, sid=row.sid))
        if client.backchannel_logout_uri and user is not None:
            db.session.add(
                LogoutDelivery(
                    client_id=client.client_id,
                    user_id=user_id,
                    subject=user.subject,
                    sid=row.sid,
                    reason=reason[:40],
                    status=QUEUED,
                    attempts=0,
                    created_at=at,
                    next_attempt_at=at,
                )
            )
    db.session.execute(
        delete(SessionClient)
        .where(SessionClient.id.in_([row.id for row in rows]))
        .execution_options(synchronize_session=False)
    )
    return ended


def sid_of(record: SessionRecord | None) -> str:
    """The public id (`sid`) kept in a session row's data."""
    data = record.data if record is not None else None
    sid = data.get("sid") if isinstance(data, dict) else None
    return sid if isinstance(sid, str) else ""


def sid_of_hash(id_hash: str | None) -> str:
    """The `sid` of the session stored under `id_hash`, if it exists."""
    return sid_of(db.session.get(SessionRecord, id_hash)) if id_hash else ""


def end_records(records: Iterable[SessionRecord], *, reason: str, at: datetime) -> int:
    """Delete these session rows and announce their end; the caller commits."""
    doomed = list(records)
    if not doomed:
        return 0
    by_user: dict[int, list[str]] = {}
    for record in doomed:
        if record.user_id is not None:
            by_user.setdefault(record.user_id, []).append(sid_of(record))
    hashes = [record.id_hash for record in doomed]
    for record in doomed:
        if record in db.session:
            db.session.expunge(record)
    count = changed_rows(
        delete(SessionRecord)
        .where(SessionRecord.id_hash.in_(hashes))
        .execution_options(synchronize_session=False)
    )
    for user_id, sids in by_user.items():
        announce(user_id, reason=reason, at=at, sids=sids)
    return count
