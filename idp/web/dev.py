"""Development-only pages: the outbox, so a person trying the demo can read their codes."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from idp import mail
from idp.models.mail_message import MailMessage

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.before_request
def development_only() -> None:
    """Every page here is a 404 unless IDP_ENV=development."""
    if not current_app.extensions["idp.settings"].is_development:
        abort(404)


@bp.get("/outbox")
def outbox() -> str:
    """The outbox folder's messages, newest first, and how many still wait for the worker."""
    return render_template(
        "dev/outbox.html", messages=mail.outbox_messages(), queued=MailMessage.count_queued()
    )
