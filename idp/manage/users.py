"""Supporting users: create and invite, search, disable, unlock, reset MFA, roles, admins."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from idp import audit, geoip, local_time, mail
from idp.authn import attempts, sessions, sign_out
from idp.authn.password_policy import WeakPassword, check_new_password
from idp.authn.sessions import BrowserSession
from idp.clock import now
from idp.database import changed_rows, commit_unless_in_request
from idp.extensions import db
from idp.manage import invitations
from idp.manage.actor import Actor
from idp.manage.errors import Conflict, FieldError, Invalid, NotFound, Refused
from idp.manage.payload import Payload
from idp.models.email_code import EmailCode
from idp.models.invitation import Invitation
from idp.models.recovery_code import RecoveryCode
from idp.models.token import Token
from idp.models.trusted_device import TrustedDevice
from idp.models.user import User, normalize_email

ROLE = re.compile(r"[a-z][a-z0-9_.:-]{0,39}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
PROFILE_FIELDS = ("name", "given_name", "family_name", "locale", "roles")
# Tables holding second factors; by name, so factors added later are listed here, not imported.
FACTOR_TABLES = ("totp_credentials", "webauthn_credentials")
STATUSES = ("active", "pending", "locked", "disabled")


def read_email(p: Payload, name: str = "email") -> str:
    """A required, plausible email address, normalized."""
    email = normalize_email(p.text(name, max_len=320, required=True))
    if email and not EMAIL.fullmatch(email):
        p.fail(name, _("is not an email address"))
    return email


def read_profile(p: Payload, *, creating: bool) -> dict[str, Any]:
    """Name fields and roles: all on create, those present on update."""
    values: dict[str, Any] = {}
    limits = {"name": 200, "given_name": 100, "family_name": 100, "locale": 20}
    for name, limit in limits.items():
        if creating or name in p:
            values[name] = p.text(name, max_len=limit)
    if creating or "roles" in p:
        values["roles"] = p.strings("roles", [], max_items=20, max_len=40, pattern=ROLE)
    return values


def status(user: User, at: datetime) -> str:
    """active, pending (never activated), locked or disabled."""
    if user.disabled_at is not None:
        return "disabled"
    locks = (user.locked_until, user.mfa_locked_until)
    if any(until is not None and until > at for until in locks) or attempts.capped(user):
        return "locked"
    return "pending" if user.activated_at is None else "active"


def search(query: str = "", *, limit: int = 50, offset: int = 0) -> tuple[list[User], int]:
    """Users whose email or name contains the query, by email; and how many match."""
    query = query.replace("\x00", "").strip().lower()[:320]
    condition = or_(
        func.lower(User.email).contains(query, autoescape=True),
        func.lower(User.name).contains(query, autoescape=True),
    )
    statement = select(User).where(condition) if query else select(User)
    total = db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    found = db.session.scalars(statement.order_by(User.email).limit(limit).offset(offset))
    return list(found), total


def get(subject: str) -> User:
    """A user by their `sub`."""
    user = User.by_subject(subject) if 0 < len(subject) <= 64 and "\x00" not in subject else None
    if user is None:
        raise NotFound(_("No user with that id."))
    return user


def by_email(email: str) -> User:
    """A user by email (case-insensitive)."""
    user = User.by_email(email.replace("\x00", ""))
    if user is None:
        raise NotFound(f"No user with email {email}.")
    return user


def create(
    data: Mapping[str, Any],
    *,
    actor: Actor,
    password: str | None = None,
    activated: bool = False,
) -> User:
    """Create a user; with send_invitation (the default without a password) mail the link."""
    p = Payload(data, allowed=("email", *PROFILE_FIELDS, "is_admin", "send_invitation"))
    email = read_email(p)
    profile = read_profile(p, creating=True)
    admin = p.boolean("is_admin", False)
    invite = p.boolean("send_invitation", password is None and not activated)
    p.done()
    if User.by_email(email):
        raise Conflict(_("A user with email %(email)s already exists.", email=email))
    at = now()
    user = User(email=email, is_admin=admin, **profile)
    if password is not None:
        try:
            check_new_password(password, user_inputs=[email, profile["name"]])
        except WeakPassword as exc:
            raise Invalid(_("Password refused."), [FieldError("password", exc.reason)]) from exc
        current_app.extensions["idp.passwords"].set_password(user, password, now=at)
    if activated:
        user.activated_at, user.email_verified = at, True
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(_("A user with email %(email)s already exists.", email=email)) from exc
    audit.record("user.created", user_id=user.id, commit=False, admin=admin, **actor.detail())
    commit_unless_in_request()
    if invite:
        invitations.send(user, actor=actor, at=at)
    return user


def update(user: User, data: Mapping[str, Any], *, actor: Actor) -> User:
    """Change names, locale or roles."""
    p = Payload(data, allowed=PROFILE_FIELDS)
    values = read_profile(p, creating=False)
    p.done()
    changed = sorted(k for k, v in values.items() if getattr(user, k) != v)
    for name, value in values.items():
        setattr(user, name, value)
    audit.record("user.updated", user_id=user.id, commit=False, changed=changed, **actor.detail())
    commit_unless_in_request()
    return user


def _refusals(what: str) -> tuple[str, str]:
    """Why an admin may not act on their own account, or on the last admin, in words."""
    if what == "disable":
        return _("You cannot disable your own account."), _(
            "You cannot disable the last active admin."
        )
    if what == "delete":
        return _("You cannot delete your own account."), _(
            "You cannot delete the last active admin."
        )
    return (
        _("You cannot remove the admin role from your own account."),
        _("You cannot remove the admin role from the last active admin."),
    )


def _not_self_or_last_admin(user: User, actor: Actor, what: str) -> None:
    own, last = _refusals(what)
    if actor.admin_id == user.id:
        raise Refused(own)
    if user.is_admin:
        others = db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.is_admin.is_(True), User.disabled_at.is_(None), User.id != user.id)
        )
        if not others:
            raise Refused(last)


def _sign_out_everywhere(user: User, *, at: datetime, reason: str) -> dict[str, Any]:
    """End browser sessions, revoke tokens and device trust; counts for the audit trail."""
    return sign_out.end_everything(user.id, at=at, reason=reason).detail()


def set_disabled(user: User, disabled: bool, *, actor: Actor) -> None:
    """Disable (ending sessions, tokens and trust) or enable an account."""
    at, counts = now(), {}
    if disabled:
        _not_self_or_last_admin(user, actor, "disable")
        user.disabled_at = user.disabled_at or at
        counts = _sign_out_everywhere(user, at=at, reason="account_disabled")
    else:
        user.disabled_at = None
    event = "user.disabled" if disabled else "user.enabled"
    audit.record(event, user_id=user.id, commit=False, **counts, **actor.detail())
    commit_unless_in_request()


def unlock(user: User, *, actor: Actor) -> None:
    """Lift password and second-factor lock-outs."""
    attempts.unlock(user)
    audit.record("user.unlocked", user_id=user.id, commit=False, **actor.detail())
    commit_unless_in_request()


def reset_mfa(user: User, *, actor: Actor) -> None:
    """Lost phone: remove every factor, code and trust, sign out everywhere, email the user.

    activated_at is cleared so the next sign-in proves the email before enrolling anew
    (DESIGN.md rule 2): a stolen password alone cannot bind the attacker's authenticator.
    """
    if actor.admin_id == user.id:
        raise Refused(_("You cannot reset your own second factors here: use your account page."))
    at = now()
    removed = 0
    for name in FACTOR_TABLES:
        table = db.metadata.tables.get(name)
        if table is not None:
            removed += changed_rows(delete(table).where(table.c.user_id == user.id))
    RecoveryCode.delete_all(user.id)
    db.session.execute(delete(EmailCode).where(EmailCode.user_id == user.id))
    Invitation.void_for(user.id, at=at)
    user.email_factor_at = user.email_factor_used_at = user.last_factor = None
    user.mfa_failures, user.mfa_locked_until = 0, None
    user.activated_at = None
    counts = _sign_out_everywhere(user, at=at, reason="mfa_reset")
    audit.record(
        "user.mfa_reset",
        user_id=user.id,
        commit=False,
        factors_removed=removed,
        **counts,
        **actor.detail(),
    )
    mail.send(user.email, "mfa_reset", commit=False, name=user.name)
    commit_unless_in_request()


def revoke_trust(user: User, *, actor: Actor, device_id: int | None = None) -> int:
    """An admin's revoke (DESIGN.md): one trusted device, or all of the user's."""
    criteria = [TrustedDevice.user_id == user.id]
    if device_id is not None:
        criteria.append(TrustedDevice.id == device_id)
    count = TrustedDevice.revoke_where(*criteria, at=now(), reason="admin_revoked")
    if device_id is not None and count == 0:
        db.session.rollback()
        raise NotFound(_("No such trusted device for this user."))
    audit.record(
        "trusted_device.revoked",
        user_id=user.id,
        commit=False,
        device_id=device_id,
        count=count,
        **actor.detail(),
    )
    commit_unless_in_request()
    return count


def browser_sessions(
    user: User, *, current_hash: str | None = None, language: str = "en"
) -> list[BrowserSession]:
    """Where the user is signed in (`current_hash`: the asking browser's session), each
    session's place named in `language` when the GeoIP database knows it."""
    settings = current_app.extensions["idp.settings"]
    return sessions.of_user(
        user.id,
        at=now(),
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_max_hours),
        current_hash=current_hash,
        locate=lambda ip: geoip.place_of(ip, language=language),
    )


def end_session(user: User, sid: str, *, actor: Actor) -> int:
    """An admin signs the user out of one browser: the apps it served are told (logout
    tokens) and the tokens issued in it are revoked. Returns how many tokens were revoked."""
    if not sessions.end_one(user.id, sid, reason="admin_ended", at=now()):
        db.session.rollback()
        raise NotFound(_("No such session for this user."))
    revoked = Token.revoke_where(Token.user_id == user.id, Token.sid == sid)
    audit.record(
        "session.ended",
        user_id=user.id,
        commit=False,
        sid=sid,
        tokens_revoked=revoked,
        **actor.detail(),
    )
    commit_unless_in_request()
    return revoked


def sign_out_everywhere(user: User, *, actor: Actor) -> dict[str, Any]:
    """An admin signs the user out of every browser, as the user's own "sign out everywhere"
    does: sessions end (their apps get logout tokens), tokens are revoked, device trust ends."""
    counts = _sign_out_everywhere(user, at=now(), reason="admin_signed_out")
    audit.record(
        "session.signed_out_everywhere",
        user_id=user.id,
        commit=False,
        reason="admin_signed_out",
        **counts,
        **actor.detail(),
    )
    commit_unless_in_request()
    return counts


def set_admin(user: User, admin: bool, *, actor: Actor) -> None:
    """Grant or revoke the admin role (never your own, never the last admin's)."""
    if not admin and user.is_admin:
        _not_self_or_last_admin(user, actor, "demote")
    user.is_admin = admin
    event = "user.admin_granted" if admin else "user.admin_revoked"
    audit.record(event, user_id=user.id, commit=False, **actor.detail())
    commit_unless_in_request()


def remove(user: User, *, actor: Actor) -> None:
    """Delete the account and everything that hangs off it; its audit events stay."""
    _not_self_or_last_admin(user, actor, "delete")
    user_id, email = user.id, user.email
    # The apps the user is signed in to hear of it (back-channel logout tokens outlive the user:
    # their rows keep the subject, not a foreign key).
    sign_out.end_everything(user_id, at=now(), reason="user_deleted")
    for table in reversed(db.metadata.sorted_tables):
        for fk in table.foreign_keys:
            if fk.column.table.name == "users" and table.name != "users":
                db.session.execute(delete(table).where(fk.parent == user_id))
    db.session.delete(user)
    audit.record("user.deleted", user_id=user_id, commit=False, email=email, **actor.detail())
    commit_unless_in_request()


def set_time_zone(user: User, name: object) -> bool:
    """Save the IANA time zone the user's browser reported; an unknown one changes nothing."""
    zone = local_time.valid_zone(name)
    if zone is None or zone == user.time_zone:
        return False
    user.time_zone = zone
    commit_unless_in_request()
    return True
