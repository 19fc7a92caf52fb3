"""Console: find, create and invite, import, and support users (unlock, reset MFA, disable)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, g, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response  # what redirect() returns; flask's is a subclass

from idp.clock import now
from idp.extensions import db
from idp.manage import importer, invitations, user_detail, users
from idp.manage.errors import Invalid, NotFound
from idp.models.trusted_device import TrustedDevice
from idp.models.user import User
from idp.web import i18n
from idp.web.admin import back_to, bp, checkbox, lines
from idp.web.admin.confirmations import ask, confirmation, confirmed, typed_matches

PAGE = 50


@bp.get("/users")
def user_list() -> str:
    """Search by email or name."""
    query = request.args.get("q", "")
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    found, total = users.search(query, limit=PAGE, offset=(number - 1) * PAGE)
    return render_template(
        "admin/users.html",
        users=found,
        total=total,
        q=query,
        page=number,
        pages=max(1, -(-total // PAGE)),
        status=users.status,
        now=now(),
    )


def _profile_data() -> dict[str, Any]:
    """The profile fields the form sent (a field left out is left alone)."""
    data: dict[str, Any] = {
        name: request.form[name]
        for name in ("name", "given_name", "family_name", "locale")
        if name in request.form
    }
    if "roles" in request.form:
        data["roles"] = lines("roles")
    return data


@bp.route("/users/new", methods=["GET", "POST"])
def user_new() -> Response | str | tuple[str, int]:
    """Create a user and (by default) email them an invitation."""
    values: dict[str, Any] = {"email": "", "is_admin": False, "send_invitation": True}
    values.update({"name": "", "given_name": "", "family_name": "", "locale": "", "roles": []})
    if request.method == "GET":
        return render_template("admin/user_new.html", values=values, errors=[], error=None)
    data = {
        **values,
        **_profile_data(),
        "email": request.form.get("email", ""),
        "is_admin": checkbox("is_admin"),
        "send_invitation": checkbox("send_invitation"),
    }
    try:
        user = users.create(data, actor=g.actor)
    except Invalid as exc:
        return render_template(
            "admin/user_new.html", values=data, errors=exc.errors, error=exc.message
        ), 422
    if data["send_invitation"]:
        flash(_("Created %(email)s and sent an invitation.", email=user.email), "notice")
    else:
        flash(_("Created %(email)s.", email=user.email), "notice")
    return back_to("admin.user_view", subject=user.subject)


@bp.get("/users/<subject>")
def user_view(subject: str) -> str:
    """Profile, roles, status, factors, trusted devices and recent events."""
    info = user_detail.detail(users.get(subject), language=i18n.language())
    return render_template(
        "admin/user.html", info=info, user=info.user, values=None, errors=[], error=None
    )


@bp.post("/users/<subject>")
def user_update(subject: str) -> Response | tuple[str, int]:
    """Save names, locale and roles."""
    user = users.get(subject)
    try:
        users.update(user, _profile_data(), actor=g.actor)
    except Invalid as exc:
        db.session.rollback()  # what was typed is shown again, not saved
        info = user_detail.detail(user, language=i18n.language())
        typed = {name: getattr(user, name) for name in users.PROFILE_FIELDS}
        values = {**typed, **_profile_data()}
        return render_template(
            "admin/user.html",
            info=info,
            user=user,
            values=values,
            errors=exc.errors,
            error=exc.message,
        ), 422
    flash(_("Saved."), "notice")
    return back_to("admin.user_view", subject=subject)


def _action(subject: str, act: Callable[[User], object], done: str) -> Response:
    act(users.get(subject))
    flash(done, "notice")
    return back_to("admin.user_view", subject=subject)


@bp.post("/users/<subject>/disable")
def user_disable(subject: str) -> Response:
    """Disable: sessions, tokens and trusted devices end now."""
    return _action(
        subject,
        lambda u: users.set_disabled(u, True, actor=g.actor),
        _("Disabled. They were signed out everywhere."),
    )


@bp.post("/users/<subject>/enable")
def user_enable(subject: str) -> Response:
    """Enable a disabled account."""
    return _action(subject, lambda u: users.set_disabled(u, False, actor=g.actor), _("Enabled."))


@bp.post("/users/<subject>/unlock")
def user_unlock(subject: str) -> Response:
    """Lift password and second-factor lock-outs."""
    return _action(subject, lambda u: users.unlock(u, actor=g.actor), _("Unlocked."))


def _ask(user: User, kind: str, **names: str) -> tuple[str, int]:
    """The confirmation page of a destructive action on this user."""
    c = confirmation(kind, email=user.email, **names)
    return ask(c, back=url_for("admin.user_view", subject=user.subject), title=user.email)


def _confirm_first(user: User, kind: str) -> tuple[str, int] | None:
    """The confirmation page, unless the form came from a confirmation step."""
    return None if confirmed() else _ask(user, kind)


@bp.post("/users/<subject>/reset-mfa")
def user_reset_mfa(subject: str) -> Response | tuple[str, int]:
    """Lost phone: remove factors, codes and trust; they enroll again at next sign-in."""
    asked = _confirm_first(users.get(subject), "reset_mfa")
    return asked or _action(
        subject,
        lambda u: users.reset_mfa(u, actor=g.actor),
        _("Second factors reset. They were emailed and will set up a new one at next sign-in."),
    )


@bp.post("/users/<subject>/invite")
def user_invite(subject: str) -> Response:
    """Send a fresh invitation (the older link stops working)."""
    return _action(
        subject,
        lambda u: invitations.send(u, actor=g.actor, at=now()),
        _("Invitation sent."),
    )


@bp.post("/users/<subject>/trusted-devices/revoke")
def user_revoke_trust(subject: str) -> Response | tuple[str, int]:
    """End trust for all of the user's devices."""
    asked = _confirm_first(users.get(subject), "revoke_devices")
    return asked or _action(
        subject, lambda u: users.revoke_trust(u, actor=g.actor), _("Trusted devices revoked.")
    )


@bp.post("/users/<subject>/trusted-devices/<int:device_id>/revoke")
def user_revoke_device(subject: str, device_id: int) -> Response | tuple[str, int]:
    """End trust for one device: its next sign-in is challenged."""
    user = users.get(subject)
    if not confirmed():
        device = next((d for d in TrustedDevice.of_user(user.id, now()) if d.id == device_id), None)
        if device is None:
            raise NotFound(_("No such trusted device for this user."))
        return _ask(user, "revoke_device", device=device.agent, client=device.client_id)
    return _action(
        subject,
        lambda u: users.revoke_trust(u, actor=g.actor, device_id=device_id),
        _("Trusted device revoked."),
    )


@bp.post("/users/<subject>/sessions/<sid>/end")
def user_end_session(subject: str, sid: str) -> Response | tuple[str, int]:
    """Sign the user out of one browser; the apps that session served are told."""
    user = users.get(subject)
    if not confirmed():
        sessions = users.browser_sessions(user, language=i18n.language())
        session = next((s for s in sessions if s.sid == sid), None)
        if session is None:
            raise NotFound(_("No such session for this user."))
        return _ask(user, "end_session", device=session.agent)
    return _action(
        subject,
        lambda u: users.end_session(u, sid, actor=g.actor),
        _("Signed out of that browser."),
    )


@bp.post("/users/<subject>/sign-out-everywhere")
def user_sign_out_everywhere(subject: str) -> Response | tuple[str, int]:
    """Sign the user out of every browser, revoke their tokens and device trust."""
    asked = _confirm_first(users.get(subject), "sign_out_everywhere")
    return asked or _action(
        subject,
        lambda u: users.sign_out_everywhere(u, actor=g.actor),
        _("Signed out everywhere. Their tokens were revoked and their apps told."),
    )


@bp.post("/users/<subject>/grant-admin")
def user_grant_admin(subject: str) -> Response:
    """Make the user an admin."""
    return _action(subject, lambda u: users.set_admin(u, True, actor=g.actor), _("Now an admin."))


@bp.post("/users/<subject>/revoke-admin")
def user_revoke_admin(subject: str) -> Response:
    """Take the admin role away."""
    return _action(
        subject, lambda u: users.set_admin(u, False, actor=g.actor), _("No longer an admin.")
    )


@bp.post("/users/<subject>/delete")
def user_delete(subject: str) -> Response | tuple[str, int]:
    """Delete, after the admin confirmed by typing the email; audit events are kept."""
    user = users.get(subject)
    if not typed_matches(user.email, fold_case=True):  # typing it is the confirmation
        c = confirmation("delete_user", email=user.email)
        typed = "confirm" in request.form
        wrong = _("Type the email address exactly as shown.") if typed else None
        back = url_for("admin.user_view", subject=user.subject)
        return ask(c, back=back, title=user.email, error=wrong)
    email = user.email
    users.remove(user, actor=g.actor)
    flash(_("Deleted %(email)s.", email=email), "notice")
    return back_to("admin.user_list")


@bp.route("/users/import", methods=["GET", "POST"])
def user_import() -> str | tuple[str, int]:
    """Upload a CSV or JSON file; every row is imported, or none."""
    if request.method == "GET":
        return render_template("admin/import.html", result=None, errors=[], error=None)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise Invalid(_("Choose a file to import."))
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(_("The file must be UTF-8 text.")) from exc
        result = importer.import_users(importer.parse(upload.filename, text), actor=g.actor)
    except Invalid as exc:
        return render_template(
            "admin/import.html", result=None, errors=exc.errors, error=exc.message
        ), 422
    return render_template("admin/import.html", result=result, errors=[], error=None)
