"""Deletes what has expired: sessions, spent codes, dead tokens, old email codes, links and mail."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_

from idp.config import Settings
from idp.extensions import db
from idp.models.authorization_code import AuthorizationCode
from idp.models.email_code import EmailCode
from idp.models.mail_message import QUEUED, MailMessage
from idp.models.password_reset import PasswordReset
from idp.models.session import SessionRecord
from idp.models.token import Token
from idp.models.trusted_device import TrustedDevice

# Spent codes are kept a day so a late replay is still recognised and answered by revocation.
KEEP_SPENT = timedelta(days=1)
# Sent and failed mail (body already blanked) stays a week, to answer "did my email go out?".
KEEP_MAIL = timedelta(days=7)


def prune(settings: Settings, *, now: datetime) -> dict[str, int]:
    """Delete expired rows; returns how many of each kind went."""
    idle = now - timedelta(minutes=settings.session_idle_minutes)
    oldest = now - timedelta(hours=settings.session_max_hours)
    statements = {
        "sessions": delete(SessionRecord).where(
            or_(SessionRecord.last_seen_at < idle, SessionRecord.created_at < oldest)
        ),
        "authorization_codes": delete(AuthorizationCode).where(
            AuthorizationCode.expires_at < now - KEEP_SPENT
        ),
        "tokens": delete(Token).where(
            Token.issued_at
            < now - timedelta(seconds=settings.access_token_ttl_seconds) - KEEP_SPENT,
            or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < now),
        ),
        "email_codes": delete(EmailCode).where(EmailCode.expires_at < now - KEEP_SPENT),
        "password_resets": delete(PasswordReset).where(PasswordReset.expires_at < now - KEEP_SPENT),
        "trusted_devices": delete(TrustedDevice).where(
            TrustedDevice.expires_at < now - timedelta(days=90)
        ),
        "mail_messages": delete(MailMessage).where(
            MailMessage.status != QUEUED, MailMessage.created_at < now - KEEP_MAIL
        ),
    }
    counts = {name: db.session.execute(stmt).rowcount for name, stmt in statements.items()}
    db.session.commit()
    return counts
