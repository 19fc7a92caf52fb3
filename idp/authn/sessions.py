"""Where a user is signed in: their live browser sessions, and ending one of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from idp.authn import session_end
from idp.authn.trusted_device import agent_summary
from idp.extensions import db
from idp.models.client import Client
from idp.models.session import SessionRecord
from idp.models.session_client import SessionClient


@dataclass(frozen=True, slots=True)
class BrowserSession:
    """One session as the account and admin pages list it."""

    sid: str
    agent: str
    ip: str
    signed_in_at: datetime | None
    last_active_at: datetime
    apps: tuple[str, ...]
    current: bool
    place: str | None = None  # roughly where `ip` is ("City, Country"), when that is known


def _started(record: SessionRecord) -> datetime | None:
    value = (record.data or {}).get("started")
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _live(
    user_id: int, *, at: datetime, idle: timedelta, absolute: timedelta
) -> list[SessionRecord]:
    return [
        record
        for record in db.session.scalars(
            select(SessionRecord)
            .where(SessionRecord.user_id == user_id)
            .order_by(SessionRecord.last_seen_at.desc())
        )
        if at - record.last_seen_at < idle and at - record.created_at < absolute
    ]


def of_user(
    user_id: int,
    *,
    at: datetime,
    idle: timedelta,
    absolute: timedelta,
    current_hash: str | None = None,
    locate: Callable[[str], str | None] | None = None,
) -> list[BrowserSession]:
    """The user's live sessions, most recently active first, with the apps each has served.

    `locate` gives an IP address's approximate place (see idp.geoip), or None.
    """
    records = _live(user_id, at=at, idle=idle, absolute=absolute)
    sids = [session_end.sid_of(record) for record in records]
    names: dict[str, str] = {}
    apps: dict[str, list[str]] = {}
    for row in SessionClient.of_sessions(user_id, [s for s in sids if s]):
        if row.client_id not in names:
            client = Client.by_client_id(row.client_id)
            names[row.client_id] = client.name if client else row.client_id
        apps.setdefault(row.sid, []).append(names[row.client_id])
    sessions = []
    for record, sid in zip(records, sids, strict=True):
        if not sid:
            continue
        ip = str((record.data or {}).get("ip", ""))
        sessions.append(
            BrowserSession(
                sid=sid,
                agent=agent_summary(str((record.data or {}).get("agent", ""))),
                ip=ip,
                signed_in_at=_started(record),
                last_active_at=record.last_seen_at,
                apps=tuple(apps.get(sid, ())),
                current=record.id_hash == current_hash,
                place=locate(ip) if locate and ip else None,
            )
        )
    return sessions


def end_one(user_id: int, sid: str, *, reason: str, at: datetime) -> bool:
    """End the user's session `sid` (its clients are owed a logout); False if none.

    The caller commits.
    """
    if not sid:
        return False
    doomed = [
        record
        for record in db.session.scalars(
            select(SessionRecord).where(SessionRecord.user_id == user_id)
        )
        if session_end.sid_of(record) == sid
    ]
    return session_end.end_records(doomed, reason=reason, at=at) > 0
