"""Admin API: users (CRUD, disable/enable, unlock, reset-mfa, invite, admin role), audit events."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, g, jsonify, request, url_for
from flask_babel import gettext as _

from idp.clock import now
from idp.manage import audit_log, invitations, user_detail, users
from idp.manage.errors import FieldError, Invalid
from idp.models.user import User
from idp.web.admin_api import bp, json_body, no_store, query_text

MAX_LIMIT = 200


def _int_arg(name: str, default: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 12 or not 0 <= int(raw) <= high:
        problem = _("must be between %(low)d and %(high)d", low=0, high=high)
        raise Invalid(_("Bad query parameter."), [FieldError(name, problem)])
    return int(raw)


def _user(user: User, status: int = 200) -> Response:
    response = jsonify(user_detail.as_dict(user, with_detail=True))
    response.status_code = status
    return no_store(response)


@bp.get("/users")
def list_users() -> Response:
    """Search by email or name (`q`), paged with limit and offset."""
    limit = _int_arg("limit", 50, MAX_LIMIT) or 1
    offset = _int_arg("offset", 0, 10**8)
    found, total = users.search(query_text("q", 320), limit=limit, offset=offset)
    return no_store(jsonify(users=[user_detail.as_dict(u) for u in found], total=total))


@bp.post("/users")
def create_user() -> Response:
    """Create a user; send_invitation (default true) emails the activation link."""
    user = users.create(json_body(), actor=g.actor)
    response = _user(user, 201)
    response.headers["Location"] = url_for(".get_user", user_id=user.subject)
    return response


@bp.get("/users/<user_id>")
def get_user(user_id: str) -> Response:
    """One user with factors and trusted devices."""
    return _user(users.get(user_id))


@bp.patch("/users/<user_id>")
def update_user(user_id: str) -> Response:
    """Change names, locale or roles."""
    return _user(users.update(users.get(user_id), json_body(), actor=g.actor))


@bp.delete("/users/<user_id>")
def delete_user(user_id: str) -> Response:
    """Delete the account; its audit events stay."""
    users.remove(users.get(user_id), actor=g.actor)
    return Response(status=204)


def _act(user_id: str, action: Callable[[User], object]) -> Response:
    user = users.get(user_id)
    action(user)
    return _user(user)


@bp.post("/users/<user_id>/disable")
def disable_user(user_id: str) -> Response:
    """Disable: sessions, tokens and trusted devices end."""
    return _act(user_id, lambda u: users.set_disabled(u, True, actor=g.actor))


@bp.post("/users/<user_id>/enable")
def enable_user(user_id: str) -> Response:
    """Enable a disabled account."""
    return _act(user_id, lambda u: users.set_disabled(u, False, actor=g.actor))


@bp.post("/users/<user_id>/unlock")
def unlock_user(user_id: str) -> Response:
    """Lift password and second-factor lock-outs."""
    return _act(user_id, lambda u: users.unlock(u, actor=g.actor))


@bp.post("/users/<user_id>/reset-mfa")
def reset_user_mfa(user_id: str) -> Response:
    """Remove all second factors, recovery codes and trust; sign out; email the user."""
    return _act(user_id, lambda u: users.reset_mfa(u, actor=g.actor))


@bp.post("/users/<user_id>/invite")
def invite_user(user_id: str) -> Response:
    """Email a fresh activation link to an account not yet activated."""
    return _act(user_id, lambda u: invitations.send(u, actor=g.actor, at=now()))


@bp.post("/users/<user_id>/revoke-trusted-devices")
def revoke_user_trust(user_id: str) -> Response:
    """End trust for all of the user's devices: their next sign-ins are challenged."""
    return _act(user_id, lambda u: users.revoke_trust(u, actor=g.actor))


@bp.get("/users/<user_id>/sessions")
def list_user_sessions(user_id: str) -> Response:
    """Where the user is signed in: browser, IP and approximate place, times, apps."""
    user = users.get(user_id)
    return no_store(jsonify(sessions=user_detail.sessions_as_dicts(users.browser_sessions(user))))


@bp.delete("/users/<user_id>/sessions/<sid>")
def end_user_session(user_id: str, sid: str) -> Response:
    """Sign the user out of one browser: its apps get logout tokens, its tokens are revoked."""
    users.end_session(users.get(user_id), sid, actor=g.actor)
    return Response(status=204)


@bp.post("/users/<user_id>/sign-out-everywhere")
def sign_out_user_everywhere(user_id: str) -> Response:
    """End every session, revoke the user's tokens and device trust; the apps are told."""
    return _act(user_id, lambda u: users.sign_out_everywhere(u, actor=g.actor))


@bp.post("/users/<user_id>/grant-admin")
def grant_admin(user_id: str) -> Response:
    """Give the admin role."""
    return _act(user_id, lambda u: users.set_admin(u, True, actor=g.actor))


@bp.post("/users/<user_id>/revoke-admin")
def revoke_admin(user_id: str) -> Response:
    """Take the admin role away (never from the last admin)."""
    return _act(user_id, lambda u: users.set_admin(u, False, actor=g.actor))


@bp.get("/audit-events")
def list_audit_events() -> Response:
    """Newest first; filter by user, client, event, since, until; page with `before`."""
    args = {k: request.args.get(k) for k in ("user", "client", "event", "since", "until")}
    selected = audit_log.read_filter(args)
    limit = _int_arg("limit", audit_log.PAGE_SIZE, 1000) or 1
    before = request.args.get("before")
    before_id = _int_arg("before", 0, 2**31 - 1) if before is not None else None
    events = audit_log.page(selected, before_id=before_id, size=limit)
    labels = audit_log.UserLabels()
    more = events[-1].id if len(events) == limit else None
    return no_store(
        jsonify(events=[audit_log.as_dict(e, labels) for e in events], next_before=more)
    )
