"""What support sees about one user: factors, trusted devices, recent events; the API's view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from idp.authn.factor_list import FactorRow, factor_rows
from idp.authn.sessions import BrowserSession
from idp.clock import now
from idp.extensions import db
from idp.manage.payload import iso
from idp.manage.users import PROFILE_FIELDS, browser_sessions, status
from idp.models.audit_event import AuditEvent
from idp.models.recovery_code import RecoveryCode
from idp.models.trusted_device import TrustedDevice
from idp.models.user import User


@dataclass(frozen=True, slots=True)
class UserDetail:
    """What support sees about one user."""

    user: User
    status: str
    factors: list[FactorRow]
    recovery_codes_left: int
    trusted_devices: list[TrustedDevice]
    events: list[AuditEvent]
    sessions: list[BrowserSession]


def detail(user: User, *, events: int = 20, language: str = "en") -> UserDetail:
    """Factors, trusted devices, sessions (places named in `language`) and recent events."""
    at = now()
    recent = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.user_id == user.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(events)
    )
    return UserDetail(
        user=user,
        status=status(user, at),
        factors=factor_rows(user),
        recovery_codes_left=RecoveryCode.remaining(user.id),
        trusted_devices=TrustedDevice.of_user(user.id, at),
        events=list(recent),
        sessions=browser_sessions(user, language=language),
    )


def as_dict(user: User, *, with_detail: bool = False) -> dict[str, Any]:
    """The API's representation; `id` is the user's `sub`."""
    found: dict[str, Any] = {
        "id": user.subject,
        "email": user.email,
        "email_verified": bool(user.email_verified),
        **{name: getattr(user, name) for name in PROFILE_FIELDS},
        "roles": list(user.roles or []),
        "is_admin": bool(user.is_admin),
        "status": status(user, now()),
        "created_at": iso(user.created_at),
        "activated_at": iso(user.activated_at),
        "disabled_at": iso(user.disabled_at),
        "locked_until": iso(user.locked_until),
        "mfa_locked_until": iso(user.mfa_locked_until),
    }
    if with_detail:
        info = detail(user, events=0)
        found["factors"] = [
            {
                "kind": row.kind,
                "name": row.name,
                "created_at": iso(row.created_at),
                "last_used_at": iso(row.last_used_at),
            }
            for row in info.factors
        ]
        found["recovery_codes_left"] = info.recovery_codes_left
        found["trusted_devices"] = [
            {
                "id": d.id,
                "client_id": d.client_id,
                "agent": d.agent,
                "created_at": iso(d.created_at),
                "last_used_at": iso(d.last_used_at),
                "expires_at": iso(d.expires_at),
            }
            for d in info.trusted_devices
        ]
        found["sessions"] = sessions_as_dicts(info.sessions)
    return found


def sessions_as_dicts(sessions: list[BrowserSession]) -> list[dict[str, Any]]:
    """The API's view of where a user is signed in."""
    return [
        {
            "sid": s.sid,
            "browser": s.agent,
            "ip": s.ip,
            "place": s.place,
            "signed_in_at": iso(s.signed_in_at),
            "last_active_at": iso(s.last_active_at),
            "apps": list(s.apps),
        }
        for s in sessions
    ]
