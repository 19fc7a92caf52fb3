"""Reading the audit trail: filters, pages, JSON Lines export, and retention."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, delete, select

from idp import audit
from idp.database import changed_rows, commit_unless_in_request
from idp.extensions import db
from idp.manage.actor import Actor
from idp.manage.payload import Payload, iso
from idp.models.audit_event import AuditEvent
from idp.models.user import User

EVENT = re.compile(r"[a-z0-9_.]{1,64}\*?")
PAGE_SIZE = 100
FILTERS = ("user", "client", "event", "since", "until", "before")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events to show: all given conditions hold."""

    user_id: int | None = None
    client_id: str | None = None
    event: str | None = None  # exact name, or a prefix ending in "*" ("user.*")
    since: datetime | None = None
    until: datetime | None = None


def parse_time(text: str) -> datetime | None:
    """YYYY-MM-DD or an ISO 8601 time (a 'Z' or offset is converted to naive UTC)."""
    try:
        at = datetime.fromisoformat(text)
        if at.tzinfo is not None:
            at = (at - at.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
    except (ValueError, OverflowError):
        return None
    return at


def read_filter(args: Mapping[str, Any]) -> AuditFilter:
    """A filter from query parameters or CLI options; user is an email or a `sub`."""
    p = Payload({k: v for k, v in args.items() if v not in (None, "")}, allowed=FILTERS)
    user_text = p.text("user", max_len=320)
    client_id = p.text("client", max_len=64) or None
    event = p.text("event", max_len=65) or None
    if event and not EVENT.fullmatch(event):
        p.fail(
            "event", _("must be an event name such as user.disabled, or a prefix such as user.*")
        )
    times = {}
    for name in ("since", "until"):
        raw = p.text(name, max_len=40)
        times[name] = parse_time(raw) if raw else None
        if raw and times[name] is None:
            p.fail(name, _("must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"))
    user_id = None
    if user_text:
        user = User.by_email(user_text) if "@" in user_text else User.by_subject(user_text)
        if user is None:
            p.fail("user", _("matches no user's email or id"))
        else:
            user_id = user.id
    p.done()
    return AuditFilter(user_id, client_id, event, times["since"], times["until"])


def _select(f: AuditFilter) -> Select[AuditEvent]:
    statement = select(AuditEvent)
    if f.user_id is not None:
        statement = statement.where(AuditEvent.user_id == f.user_id)
    if f.client_id:
        statement = statement.where(AuditEvent.client_id == f.client_id)
    if f.event and f.event.endswith("*"):
        statement = statement.where(AuditEvent.event.startswith(f.event[:-1], autoescape=True))
    elif f.event:
        statement = statement.where(AuditEvent.event == f.event)
    if f.since:
        statement = statement.where(AuditEvent.at >= f.since)
    if f.until:
        # A bare date means "through the end of that day".
        end = f.until + timedelta(days=1) if f.until.time() == datetime.min.time() else f.until
        statement = statement.where(AuditEvent.at < end)
    return statement


def page(
    f: AuditFilter, *, before_id: int | None = None, size: int = PAGE_SIZE
) -> list[AuditEvent]:
    """Newest first; pass the last id shown as before_id for the next page."""
    statement = _select(f)
    if before_id is not None:
        statement = statement.where(AuditEvent.id < before_id)
    return list(db.session.scalars(statement.order_by(AuditEvent.id.desc()).limit(size)))


class UserLabels:
    """Email and `sub` of the users events name, looked up once each."""

    def __init__(self) -> None:
        self.cache: dict[int, User | None] = {}

    def __call__(self, user_id: int | None) -> User | None:
        """The user, if the account still exists."""
        if user_id is None:
            return None
        if user_id not in self.cache:
            self.cache[user_id] = db.session.get(User, user_id)
        return self.cache[user_id]


def as_dict(event: AuditEvent, labels: UserLabels) -> dict[str, Any]:
    """One event as exported: the user by `sub` and email as well as the internal id."""
    user = labels(event.user_id)
    return {
        "id": event.id,
        "at": iso(event.at),
        "event": event.event,
        "user_id": event.user_id,
        "user_sub": user.subject if user else None,
        "user_email": user.email if user else None,
        "client_id": event.client_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "detail": event.detail or {},
    }


def export_lines(f: AuditFilter) -> Iterator[str]:
    """JSON Lines, oldest first, streamed in batches."""
    labels = UserLabels()
    statement = _select(f).order_by(AuditEvent.id).execution_options(yield_per=500)
    for event in db.session.scalars(statement):
        yield json.dumps(as_dict(event, labels), separators=(",", ":"), default=str) + "\n"


def record_export(f: AuditFilter, *, actor: Actor) -> None:
    """Exports are themselves audited: who took a copy of what."""
    conditions = {k: str(v) for k, v in vars_of(f).items() if v is not None}
    audit.record("audit.exported", commit=True, filters=conditions, **actor.detail())


def vars_of(f: AuditFilter) -> dict[str, Any]:
    """The filter's fields as a dict."""
    return {name: getattr(f, name) for name in AuditFilter.__dataclass_fields__}


def prune(*, days: int, at: datetime, actor: Actor) -> int:
    """Delete events older than `days` (0 keeps everything); the pruning is audited."""
    if days <= 0:
        return 0
    cutoff = at - timedelta(days=days)
    count = changed_rows(delete(AuditEvent).where(AuditEvent.at < cutoff))
    audit.record("audit.pruned", commit=False, deleted=count, before=iso(cutoff), **actor.detail())
    commit_unless_in_request()
    return count
