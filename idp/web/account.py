"""The signed-in user's security page."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, url_for

from idp.web import flow

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.get("")
def home() -> Response | str:
    """Landing page after a sign-in that no application asked for."""
    user = flow.current_user()
    if user is None:
        return redirect(url_for("signin.password"))
    return render_template("account/home.html", user=user)
