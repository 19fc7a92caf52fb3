"""The help page: MFA explained for people who are not technical."""

from __future__ import annotations

from flask import Blueprint, render_template, request

bp = Blueprint("help", __name__)


@bp.get("/help")
def page() -> str:
    """How and why we ask for a second step, and what to do when stuck."""
    return render_template("help/page.html", rid=request.args.get("rid"))
