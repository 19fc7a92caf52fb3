"""New-browser notices: the first sign-in from a browser a user never used is emailed to them,
with a single-use "This wasn't me" link that locks the intruder out.

A browser is its long-lived `idp_device` cookie (stored hashed, as for trusted devices). The
very first sign-in of an account announces nothing: every browser is new then.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete

from idp import audit, mail
from idp.authn import password_reset, sign_out
from idp.database import changed_rows, commit_unless_in_request
from idp.errors import IdpError
from idp.extensions import db
from idp.models.hashing import sha256_hex
from idp.models.known_browser import KnownBrowser
from idp.models.user import User


class NoticeLinkInvalid(IdpError):
    """Unknown, used or expired "This wasn't me" link."""

    code = "notice_link_invalid"
    message = _l("This link has expired or was already used.")


@dataclass(frozen=True, slots=True)
class SignInPlace:
    """Where a sign-in came from, as the notice describes it."""

    app: str
    agent: str
    ip: str


def recognise(
    user: User,
    device_token: str,
    *,
    place: SignInPlace,
    at: datetime,
    issuer: str,
    link_hours: int,
) -> bool:
    """Remember this browser for the user; True if it was new and the user was emailed."""
    token = secrets.token_urlsafe(32)  # the notice's link, if the browser is new
    noticed = KnownBrowser.seen(
        user_id=user.id,
        device_hash=sha256_hex(device_token),
        agent=place.agent[:100],
        ip=place.ip[:45],
        at=at,
        notice_hash=sha256_hex(token),
        notice_expires_at=at + timedelta(hours=link_hours),
    )
    if not noticed:  # known already, or the very first sign-in: nothing to announce
        commit_unless_in_request()
        return False
    mail.send(
        user.email,
        "new_browser",
        commit=False,
        app=place.app,
        agent=place.agent,
        ip=place.ip or "unknown",
        when=at,
        link=f"{issuer}/account/not-me/{token}",
        hours=link_hours,
    )
    audit.record(
        "new_browser.noticed", user_id=user.id, commit=False, agent=place.agent, app=place.app
    )
    commit_unless_in_request()  # the browser, its notice mail and the audit event, together
    return True


def open_notice(token: str, *, at: datetime) -> KnownBrowser:
    """The browser a live "This wasn't me" link reports, or NoticeLinkInvalid."""
    record = KnownBrowser.by_notice(sha256_hex(token)) if 0 < len(token) <= 100 else None
    if record is None or record.notice_expires_at is None or record.notice_expires_at <= at:
        raise NoticeLinkInvalid()
    return record


def disown(token: str, *, at: datetime, locale: str = "en") -> User:
    """ "This wasn't me": sign out everywhere (tokens and trust too), forget the browser, and
    start a password reset (the worker mails its link, in `locale`). The link works once."""
    record = open_notice(token, at=at)
    user = db.session.get(User, record.user_id)
    if user is None:
        raise NoticeLinkInvalid()
    # Single use: the row goes, so the link and this browser's "known" status go with it.
    gone = changed_rows(
        delete(KnownBrowser).where(
            KnownBrowser.id == record.id, KnownBrowser.notice_hash == record.notice_hash
        )
    )
    if gone != 1:
        db.session.rollback()
        raise NoticeLinkInvalid()
    ended = sign_out.end_everything(user.id, at=at, reason="not_me")
    audit.record(
        "new_browser.disowned",
        user_id=user.id,
        commit=False,
        agent=record.agent,
        **ended.detail(),
    )
    password_reset.request_reset(user.email, now=at, locale=locale)  # commits
    return user
