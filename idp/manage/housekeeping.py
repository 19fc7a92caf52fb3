"""Deletes what has expired: sessions, spent codes, dead tokens, old email codes and links."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, inspect, or_, select

from idp.config import Settings
from idp.extensions import db
from idp.models.authorization_code import AuthorizationCode
from idp.models.email_code import EmailCode
from idp.models.password_reset import PasswordReset
from idp.models.session import SessionRecord
from idp.models.token import Token
from idp.models.trusted_device import TrustedDevice

# Spent codes are kept a day so a late replay is still recognised and answered by revocation.
KEEP_SPENT = timedelta(days=1)


def _expired(settings: Settings, now: datetime) -> dict[str, tuple[Any, ColumnElement[bool]]]:
    idle = now - timedelta(minutes=settings.session_idle_minutes)
    oldest = now - timedelta(hours=settings.session_max_hours)
    return {
        "sessions": (
            SessionRecord,
            or_(SessionRecord.last_seen_at < idle, SessionRecord.created_at < oldest),
        ),
        "authorization_codes": (AuthorizationCode, AuthorizationCode.expires_at < now - KEEP_SPENT),
        "tokens": (
            Token,
            (
                Token.issued_at
                < now - timedelta(seconds=settings.access_token_ttl_seconds) - KEEP_SPENT
            )
            & or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < now),
        ),
        "email_codes": (EmailCode, EmailCode.expires_at < now - KEEP_SPENT),
        "password_resets": (PasswordReset, PasswordReset.expires_at < now - KEEP_SPENT),
        "trusted_devices": (TrustedDevice, TrustedDevice.expires_at < now - timedelta(days=90)),
    }


def prune(settings: Settings, *, now: datetime) -> dict[str, int]:
    """Delete expired rows; returns how many of each kind went."""
    counts = {
        name: db.session.execute(delete(model).where(condition)).rowcount
        for name, (model, condition) in _expired(settings, now).items()
    }
    db.session.commit()
    return counts


def sweep(settings: Settings, *, now: datetime, batch: int = 500) -> dict[str, int]:
    """Delete at most `batch` expired rows of each kind: short transactions, run often."""
    counts = {}
    for name, (model, condition) in _expired(settings, now).items():
        key = inspect(model).primary_key[0]
        doomed = select(key).where(condition).limit(batch).scalar_subquery()
        counts[name] = db.session.execute(delete(model).where(key.in_(doomed))).rowcount
    db.session.commit()
    return counts
