"""Deletes what has expired: sessions, spent codes, dead tokens, email codes, links, sent mail.

Rows go in batches, each its own statement and commit: one DELETE of a million rows would hold
SQLite's write lock for its whole run, and every sign-in meanwhile fails "database is locked".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, inspect, or_, select
from sqlalchemy.orm import aliased

from idp.authn import session_end
from idp.config import Settings
from idp.database import changed_rows
from idp.extensions import db
from idp.models.authorization_code import AuthorizationCode
from idp.models.email_code import EmailCode
from idp.models.known_browser import KnownBrowser
from idp.models.logout_delivery import LogoutDelivery
from idp.models.mail_message import QUEUED, MailMessage
from idp.models.password_reset import PasswordReset
from idp.models.password_reset_request import PasswordResetRequest
from idp.models.revoked_access_token import RevokedAccessToken
from idp.models.session import SessionRecord
from idp.models.sign_in_failure import ANY_SOURCE, SignInFailure
from idp.models.token import Token
from idp.models.trusted_device import TrustedDevice

# Spent codes are kept a day so a late replay is still recognised and answered by revocation.
KEEP_SPENT = timedelta(days=1)
# Rows per DELETE: a few milliseconds of write lock, so requests in between are not refused.
BATCH_SIZE = 1_000
# Sent and failed mail (body already blanked) and logout deliveries stay a week, to answer
# "did my email go out?" and "was the app told?".
KEEP_MAIL = timedelta(days=7)
# Wrong passwords typed for any email, known or not, each leave rows: a source's streak ends
# after a day without failures, an account's after a month (the cap, NIST SP 800-63B 5.2.2,
# counts consecutive failures, not failures forever).
KEEP_SOURCE_STREAK = timedelta(days=1)
KEEP_ACCOUNT_STREAK = timedelta(days=30)
# A browser unseen for over a year is forgotten (its next sign-in is announced as new), except
# each user's most recent one: with none left, the next sign-in would count as the first ever,
# which is never announced.
KEEP_KNOWN_BROWSER = timedelta(days=400)


def _stale_known_browsers(now: datetime) -> ColumnElement[bool]:
    newer = aliased(KnownBrowser)
    return and_(
        KnownBrowser.last_seen_at < now - KEEP_KNOWN_BROWSER,
        exists().where(
            newer.user_id == KnownBrowser.user_id,
            newer.last_seen_at > KnownBrowser.last_seen_at,
        ),
    )


def _expired_sessions(settings: Settings, now: datetime) -> ColumnElement[bool]:
    idle = now - timedelta(minutes=settings.session_idle_minutes)
    oldest = now - timedelta(hours=settings.session_max_hours)
    return or_(SessionRecord.last_seen_at < idle, SessionRecord.created_at < oldest)


def _end_expired_sessions(settings: Settings, now: datetime, limit: int) -> int:
    """Delete up to `limit` expired sessions; the clients they served are owed a logout."""
    doomed = db.session.scalars(
        select(SessionRecord).where(_expired_sessions(settings, now)).limit(limit)
    ).all()
    count = session_end.end_records(doomed, reason="expired", at=now)
    db.session.commit()
    return count


def _expired(settings: Settings, now: datetime) -> dict[str, tuple[Any, ColumnElement[bool]]]:
    return {
        "authorization_codes": (AuthorizationCode, AuthorizationCode.expires_at < now - KEEP_SPENT),
        "tokens": (
            Token,
            and_(
                Token.issued_at
                < now - timedelta(seconds=settings.access_token_ttl_seconds) - KEEP_SPENT,
                or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < now),
            ),
        ),
        # Listed only until the JWT expires: an expired one fails verification anyway.
        "revoked_access_tokens": (RevokedAccessToken, RevokedAccessToken.expires_at < now),
        "email_codes": (EmailCode, EmailCode.expires_at < now - KEEP_SPENT),
        "password_resets": (PasswordReset, PasswordReset.expires_at < now - KEEP_SPENT),
        "trusted_devices": (TrustedDevice, TrustedDevice.expires_at < now - timedelta(days=90)),
        "mail_messages": (
            MailMessage,
            and_(MailMessage.status != QUEUED, MailMessage.created_at < now - KEEP_MAIL),
        ),
        "password_reset_requests": (
            PasswordResetRequest,
            and_(
                PasswordResetRequest.status != QUEUED,
                PasswordResetRequest.created_at < now - KEEP_MAIL,
            ),
        ),
        "logout_deliveries": (
            LogoutDelivery,
            and_(LogoutDelivery.status != QUEUED, LogoutDelivery.created_at < now - KEEP_MAIL),
        ),
        "known_browsers": (KnownBrowser, _stale_known_browsers(now)),
        "sign_in_failures": (
            SignInFailure,
            or_(
                and_(
                    SignInFailure.source != ANY_SOURCE,
                    SignInFailure.last_at < now - KEEP_SOURCE_STREAK,
                ),
                SignInFailure.last_at < now - KEEP_ACCOUNT_STREAK,
            ),
        ),
    }


def prune(settings: Settings, *, now: datetime, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete expired rows, ``batch_size`` per statement and commit; how many of each kind went."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    sessions = 0
    while True:
        ended = _end_expired_sessions(settings, now, batch_size)
        sessions += ended
        if ended < batch_size:
            break
    return {
        "sessions": sessions,
        **{
            name: _delete_in_batches(model, condition, batch_size)
            for name, (model, condition) in _expired(settings, now).items()
        },
    }


def _delete_in_batches(model: Any, condition: ColumnElement[bool], batch_size: int) -> int:
    """Delete matching rows ``batch_size`` at a time, committing after each batch."""
    (key,) = model.__mapper__.primary_key
    total = 0
    while True:
        batch = select(key).where(condition).limit(batch_size)
        statement = delete(model).where(key.in_(batch)).execution_options(synchronize_session=False)
        deleted = changed_rows(statement)
        db.session.commit()  # ends the write transaction: SQLite's lock is free between batches
        total += deleted
        if deleted < batch_size:
            return total


def sweep(settings: Settings, *, now: datetime, batch: int = 500) -> dict[str, int]:
    """Delete at most `batch` expired rows of each kind: short transactions, run often."""
    counts = {"sessions": _end_expired_sessions(settings, now, batch)}
    for name, (model, condition) in _expired(settings, now).items():
        key = inspect(model).primary_key[0]
        doomed = select(key).where(condition).limit(batch).scalar_subquery()
        counts[name] = changed_rows(delete(model).where(key.in_(doomed)))
    db.session.commit()
    return counts
