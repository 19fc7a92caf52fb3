"""The admin console: server-rendered pages for admins, behind a 15-minute step-up."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.wrappers import Response  # what redirect() returns; flask's is a subclass

from idp import audit
from idp.authn.policy import StepUp
from idp.extensions import db
from idp.manage.actor import Actor
from idp.manage.errors import ManageError
from idp.models.client import Client
from idp.models.user import User
from idp.web.admin.confirmations import confirmation
from idp.web.guards import signin_required, stepped_up

bp = Blueprint("admin", __name__, url_prefix="/admin")


@signin_required
def _signed_in() -> None:
    """Passes (returns None) only for a fully signed-in user; sets g.user."""


@bp.before_request
def admin_only() -> Response | None:
    """Every console route: signed in, admin, a recent second factor (StepUp.ADMIN); else 403."""
    refused = _signed_in()
    if refused is not None:
        return refused
    if not g.user.is_admin:
        audit.record("admin.access_denied", user_id=g.user.id, path=request.path[:200])
        abort(403)
    # Admins act on other people's accounts: policy.STEP_UP_WINDOWS says how recent.
    if not stepped_up(StepUp.ADMIN):
        back = request.full_path if request.method == "GET" else url_for("admin.home")
        return redirect(url_for("account.reverify", next=back))
    g.actor = Actor(via="console", admin_id=g.user.id)
    return None


@bp.errorhandler(ManageError)
def manage_error(error: ManageError) -> tuple[str, int]:
    """A refused action the view did not handle itself: the error page with the reason."""
    message = " ".join([error.message, *(str(e) for e in error.errors)])
    return render_template(
        "error.html", title=error.title, message=message, code=error.code
    ), error.status


STATUS_LABELS = {
    "active": _l("active"),
    "pending": _l("pending (never signed in)"),
    "locked": _l("locked"),
    "disabled": _l("disabled"),
}


@bp.context_processor
def console_helpers() -> dict[str, Any]:
    """What every console page may call: a status in words, a destructive action's words."""
    return {
        "status_label": lambda status: str(STATUS_LABELS.get(status, status)),
        "confirmation": confirmation,
    }


@bp.get("")
def home() -> str:
    """Counts and the way to each section."""
    count = db.session.scalar
    return render_template(
        "admin/home.html",
        users=count(select(func.count()).select_from(User)) or 0,
        clients=count(select(func.count()).select_from(Client)) or 0,
    )


def checkbox(name: str) -> bool:
    """An HTML checkbox: present means ticked."""
    return name in request.form


def lines(name: str) -> list[str]:
    """A textarea holding one item per line (or separated by spaces)."""
    return [item for item in request.form.get(name, "").split() if item]


def back_to(endpoint: str, **values: Any) -> Response:
    """Redirect after a POST (Post/Redirect/Get)."""
    return redirect(url_for(endpoint, **values))


from idp.web.admin import api_docs, audit_log, clients, users  # noqa: E402, F401
