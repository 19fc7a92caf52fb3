"""Writes security events to the audit table: who, what, client, IP, user agent, when."""

from __future__ import annotations

import logging
from typing import Any

from idp.clock import now
from idp.database import current_caller, in_request
from idp.extensions import db
from idp.logging_setup import mask_email, mask_emails
from idp.metrics import metrics
from idp.models.audit_event import AuditEvent

log = logging.getLogger("idp.audit")


def record(
    event: str,
    *,
    user_id: int | None = None,
    client_id: str | None = None,
    commit: bool | None = None,
    **detail: Any,
) -> None:
    """Append one audit event; IP and user agent come from the current request, if any.

    In a request the event is committed with the request's own work, once, when the response
    is ready (idp/web/session.py: `save_session`, or `commit_without_session`); outside one
    (CLI, worker) at once. `commit=True` forces it now (a refusal that must be kept even if the
    request later fails), `False` leaves it to the caller.
    """
    caller = current_caller()
    ip, ua = (caller.ip, caller.user_agent) if caller is not None else (None, None)
    AuditEvent.append(
        at=now(),
        event=event,
        user_id=user_id,
        client_id=client_id,
        ip=ip,
        user_agent=ua,
        detail=detail,
    )
    if commit or (commit is None and not in_request()):
        db.session.commit()
    if (found := metrics()) is not None:
        found.count_audit_event(event, detail)
    shown = _loggable(detail)
    fields = {"event": event, "user_id": user_id, "client_id": client_id, "ip": ip, "detail": shown}
    message = "%s user=%s client=%s ip=%s %s"
    log.info(message, event, user_id, client_id, ip, shown, extra={"fields": fields})


def _loggable(detail: dict[str, Any]) -> dict[str, Any]:
    """Detail for the log: addresses masked (the table keeps them; log files travel further).

    An `email` key is masked even when it is not an address: a password typed into the email
    box by mistake lands there.
    """
    return {
        key: mask_email(str(value))
        if key == "email"
        else mask_emails(value)
        if isinstance(value, str)
        else value
        for key, value in detail.items()
    }
