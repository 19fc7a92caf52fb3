"""One-time codes by email: 6 digits, 10 minutes, single use, 5 tries, resend throttled."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from idp import audit, mail
from idp.authn.errors import (
    CodeExpired,
    InvalidCode,
    ResendLimited,
    ResendTooSoon,
    TooManyAttempts,
)
from idp.database import changed_rows, commit_unless_in_request
from idp.extensions import db
from idp.models.email_code import EmailCode
from idp.models.hashing import keyed_hash, keyed_matches
from idp.models.user import User

LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=30)
# Codes mailed to one user per hour, all purposes together: a mailbox is not a guessing oracle.
MAX_PER_HOUR = 5
PURPOSES = {
    "signin": _l("sign in"),
    "activate": _l("confirm your email address"),
    "enroll": _l("turn on codes by email"),
    "confirm_key": _l("confirm you are adding a security key or passkey"),
}


def send_code(user: User, purpose: str, *, now: datetime, app_secret: str) -> EmailCode:
    """Mail a new code (voiding older ones for this purpose); throttled."""
    latest = EmailCode.latest(user.id, purpose)
    if latest is not None and now - latest.created_at < RESEND_AFTER:
        raise ResendTooSoon()
    if EmailCode.sent_since(user.id, now - timedelta(hours=1)) >= MAX_PER_HOUR:
        raise ResendLimited()
    if latest is not None and latest.used_at is None:
        latest.used_at = now  # only the newest code works
    code = f"{secrets.randbelow(10**6):06d}"
    entry = EmailCode(
        user_id=user.id,
        purpose=purpose,
        code_hash=keyed_hash(code, app_secret),
        created_at=now,
        expires_at=now + LIFETIME,
    )
    db.session.add(entry)
    mail.send(
        user.email,
        "email_code",
        commit=False,
        code=code,
        minutes=int(LIFETIME.total_seconds() // 60),
        purpose=PURPOSES[purpose],
    )
    commit_unless_in_request()  # the code and its mail, together or not at all
    return entry


def live_code(user: User, purpose: str, *, now: datetime) -> EmailCode | None:
    """The newest unused, unexpired code for this purpose, if any."""
    latest = EmailCode.latest(user.id, purpose)
    if latest is None or latest.used_at is not None or now >= latest.expires_at:
        return None
    return latest


def verify_code(user: User, purpose: str, code: str, *, now: datetime, app_secret: str) -> None:
    """Accept the newest code once; raise InvalidCode, CodeExpired or TooManyAttempts."""
    entry = EmailCode.latest(user.id, purpose)
    code = "".join(code.split())
    if entry is None or entry.used_at is not None:
        raise InvalidCode()
    if now >= entry.expires_at:
        raise CodeExpired()
    if entry.attempts >= MAX_ATTEMPTS:
        raise TooManyAttempts()
    if not keyed_matches(code, entry.code_hash, app_secret):
        entry.attempts += 1
        # Now, not with the request: the caller rolls back a failed verification, and the
        # count of wrong guesses must outlive it.
        db.session.commit()
        if entry.attempts >= MAX_ATTEMPTS:
            raise TooManyAttempts()
        if _matches_an_older_code(user, purpose, code, entry, app_secret):
            raise CodeExpired()  # a newer code was sent since: say so, not "wrong code"
        raise InvalidCode()
    # Single use under concurrency: only one request's UPDATE finds the code unused.
    if not changed_rows(
        update(EmailCode)
        .where(EmailCode.id == entry.id, EmailCode.used_at.is_(None))
        .values(used_at=now)
    ):
        raise InvalidCode()
    commit_unless_in_request()


def _matches_an_older_code(
    user: User, purpose: str, code: str, newest: EmailCode, app_secret: str
) -> bool:
    older = EmailCode.recent(user.id, purpose, limit=4)
    return any(keyed_matches(code, e.code_hash, app_secret) for e in older if e.id != newest.id)


def ensure_sent(user: User, purpose: str, *, now: datetime, app_secret: str) -> bool:
    """Send a code when none is waiting; True if one is waiting now (the page may say so)."""
    if live_code(user, purpose, now=now) is not None:
        return True
    try:
        send_code(user, purpose, now=now, app_secret=app_secret)
    except ResendTooSoon:
        return False
    return True


def activate(user: User, *, at: datetime) -> None:
    """DESIGN rule 2: the account's owner proved the mailbox; factors may now be enrolled."""
    user.activated_at = at
    user.email_verified = True
    audit.record("user.activated", user_id=user.id, commit=False, via="email_code")
    commit_unless_in_request()


def turn_on(user: User, *, at: datetime) -> None:
    """Codes by email become one of the user's second factors (the mailbox just proved it)."""
    user.email_factor_at = user.email_factor_used_at = at
    user.last_factor = "email_code"
