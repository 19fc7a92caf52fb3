"""Forgot password: a 30-minute single-use link, then the second factor, then a new password."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from idp import mail
from idp.authn import attempts
from idp.authn.password import Passwords, after_password_change
from idp.authn.password_policy import check_new_password
from idp.branding import Brand, brand_for
from idp.config import Settings
from idp.database import changed_rows, commit_unless_in_request
from idp.errors import IdpError
from idp.extensions import db
from idp.models.client import Client
from idp.models.hashing import sha256_hex
from idp.models.password_reset import PasswordReset
from idp.models.password_reset_request import QUEUED, PasswordResetRequest
from idp.models.user import User

LIFETIME = timedelta(minutes=30)
# After a cooling-off ends, the same link works this long.
AFTER_COOLING_OFF = timedelta(hours=24)


class ResetLinkInvalid(IdpError):
    """Unknown, used or expired link."""

    code = "reset_link_invalid"
    title = _l("Link expired")
    message = _l("This reset link has expired or was already used. Please ask for a new one.")


def request_reset(
    email: str,
    *,
    now: datetime,
    rid: str | None = None,
    locale: str = "en",
    client_id: str | None = None,
) -> None:
    """Queue the request as typed, and commit; the caller answers the same either way.

    The same row, statement and commit whatever `email` is: whether an account exists is
    found out by the worker (handle_request), never in the request, so neither its answer
    nor its time can tell. `rid`, the sign-in in progress (one the caller found live), rides
    on the link so the reset ends back in that sign-in; `locale` and `client_id` are the
    mail's language and brand.
    """
    db.session.add(
        PasswordResetRequest(
            email=email[:320],
            rid=rid or None,
            locale=locale[:16],
            client_id=client_id if client_id and len(client_id) <= 64 else None,
            status=QUEUED,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
    )
    commit_unless_in_request()


def handle_request(asked: PasswordResetRequest, *, settings: Settings) -> None:
    """The worker's half: for an active account, a link mailed in the request's language
    and brand (older links stop working); for any other address, nothing."""
    user = User.by_email(asked.email)
    if user is None or not user.is_active:
        return
    token = secrets.token_urlsafe(32)
    link = f"{settings.issuer}/signin/reset/{token}"
    minutes = int(LIFETIME.total_seconds() // 60)
    if asked.rid:
        link += "?" + urlencode({"rid": asked.rid})
    client = Client.by_client_id(asked.client_id) if asked.client_id else None
    brand = brand_for(client, settings)
    # Valid from when it was asked: a queue that waited does not lengthen the link's life.
    with force_locale(asked.locale):
        _queue_link(user, token, now=asked.created_at, link=link, minutes=minutes, brand=brand)
    db.session.flush()


def _queue_link(
    user: User, token: str, *, now: datetime, link: str, minutes: int, brand: Brand
) -> None:
    # Older links stop working: only the newest can be used.
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    db.session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=sha256_hex(token),
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    mail.send(user.email, "password_reset", commit=False, link=link, minutes=minutes, brand=brand)


def open_reset(token: str, *, now: datetime) -> PasswordReset:
    """The reset a link names, if still usable."""
    reset = PasswordReset.by_hash(sha256_hex(token)) if token else None
    if reset is None or reset.used_at is not None or now >= reset.expires_at:
        raise ResetLinkInvalid()
    return reset


def start_cooling_off(
    reset: PasswordReset, user: User, *, now: datetime, wait: timedelta, issuer: str
) -> datetime:
    """Only the mailbox protects the account: announce the reset and let it wait (idempotent)."""
    if reset.cooling_until is not None:
        return reset.cooling_until
    cancel = secrets.token_urlsafe(32)
    reset.cooling_until = now + wait
    reset.cancel_hash = sha256_hex(cancel)
    reset.expires_at = reset.cooling_until + AFTER_COOLING_OFF
    commit_unless_in_request()
    mail.send(
        user.email,
        "password_reset_waiting",
        ready_at=reset.cooling_until,
        hours=int(wait.total_seconds() // 3600),
        cancel_link=f"{issuer}/signin/reset/cancel/{cancel}",
    )
    return reset.cooling_until


def open_cancel(token: str, *, now: datetime) -> PasswordReset:
    """The waiting reset a cancel link names, if it can still be cancelled."""
    reset = PasswordReset.by_cancel_hash(sha256_hex(token)) if token else None
    if reset is None or reset.used_at is not None or now >= reset.expires_at:
        raise ResetLinkInvalid()
    return reset


def cancel_reset(reset: PasswordReset, *, now: datetime) -> None:
    """The owner said no: the link stops working."""
    reset.used_at = now
    commit_unless_in_request()


def complete_reset(
    reset: PasswordReset, password: str, *, passwords: Passwords, now: datetime
) -> User:
    """Set the new password (policy checked), spend the link, end sessions and trust."""
    user = db.session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise ResetLinkInvalid()
    if reset.cooling_until is not None and now < reset.cooling_until:
        raise ResetLinkInvalid()
    check_new_password(password, user_inputs=[user.email, user.name])
    spent = changed_rows(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    if spent != 1:
        raise ResetLinkInvalid()
    passwords.set_password(user, password, now=now)
    # The reset proved a factor: the password counters of this account start over.
    attempts.password_reset(user.email)
    user.failed_logins, user.locked_until = 0, None
    mail.send(user.email, "password_changed", commit=False)
    commit_unless_in_request()
    after_password_change(user, now=now, reason="password_reset")
    return user
