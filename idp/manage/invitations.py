"""Invitations: an emailed single-use link that sets the first password and proves the email."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from idp import audit, mail
from idp.authn.password import Passwords
from idp.authn.password_policy import check_new_password
from idp.database import commit_unless_in_request
from idp.extensions import db
from idp.manage.actor import Actor
from idp.manage.errors import ManageError, Refused
from idp.models.hashing import sha256_hex
from idp.models.invitation import Invitation
from idp.models.session import SessionRecord
from idp.models.user import User


class InvitationInvalid(ManageError):
    """Unknown, used or expired link, or an account that no longer needs it."""

    code = "invitation_invalid"
    status = 400
    title = _l("Link expired")

    def __init__(self) -> None:
        super().__init__(
            _l(
                "This activation link has expired or was already used. "
                "Ask whoever invited you to send a new one."
            )
        )


def send(user: User, *, actor: Actor, at: datetime) -> None:
    """Mail a fresh link (older ones stop working) to an account not yet activated."""
    if user.activated_at is not None:
        raise Refused("This account is already active: the user can reset their password.")
    if not user.is_active:
        raise Refused("This account is disabled: enable it first.")
    settings = current_app.extensions["idp.settings"]
    token = secrets.token_urlsafe(32)
    Invitation.void_for(user.id, at=at)
    expires = at + timedelta(days=settings.invitation_days)
    db.session.add(
        Invitation(
            user_id=user.id,
            token_hash=sha256_hex(token),
            invited_by=actor.admin_id,
            created_at=at,
            expires_at=expires,
        )
    )
    audit.record(
        "user.invited",
        user_id=user.id,
        commit=False,
        expires_at=expires.isoformat(),
        **actor.detail(),
    )
    mail.send(
        user.email,
        "invitation",
        commit=False,
        link=f"{settings.issuer}/activate/{token}",
        days=settings.invitation_days,
        name=user.name,
    )
    commit_unless_in_request()  # the invitation, its audit event and its mail, together


def find(token: str, *, at: datetime) -> tuple[Invitation, User]:
    """The usable invitation a link names, and its user; InvitationInvalid otherwise."""
    invitation = Invitation.by_hash(sha256_hex(token)) if 0 < len(token) <= 100 else None
    user = db.session.get(User, invitation.user_id) if invitation else None
    if (
        invitation is None
        or user is None
        or invitation.used_at is not None
        or at >= invitation.expires_at
        or not user.is_active
        or user.activated_at is not None
    ):
        raise InvitationInvalid()
    return invitation, user


def accept(token: str, password: str, *, passwords: Passwords, at: datetime) -> User:
    """Set the first password (policy checked), prove the email, spend the link."""
    invitation, user = find(token, at=at)
    check_new_password(password, user_inputs=[user.email, user.name])
    if not Invitation.spend(invitation.id, at=at):
        db.session.rollback()
        raise InvitationInvalid()
    passwords.set_password(user, password, now=at)
    # The link arrived by email: following it proves the address (DESIGN.md rule 2).
    user.activated_at = at
    user.email_verified = True
    user.failed_logins, user.locked_until = 0, None
    SessionRecord.end_all_for(user.id)
    audit.record("user.activated", user_id=user.id, commit=False, via="invitation")
    commit_unless_in_request()
    return user
