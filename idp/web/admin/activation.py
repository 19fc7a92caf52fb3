"""The invitation link: the invited person chooses a password, which also proves their email."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from werkzeug.wrappers import Response  # what redirect() returns; flask's is a subclass

from idp.authn.password_policy import WeakPassword
from idp.clock import now
from idp.extensions import limiter
from idp.manage import invitations
from idp.web.forms import refusal

bp = Blueprint("activation", __name__)


@bp.route("/activate/<token>", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def activate(token: str) -> Response | str | tuple[str, int]:
    """Set the first password; then sign in (and enroll a second factor) as usual."""
    at = now()
    _, user = invitations.find(token, at=at)  # a dead link: the error page (idp/errors.py)
    error, status = None, 200
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("confirm", ""):
            error, status = gettext("The two passwords are not the same."), 400
        else:
            try:
                invitations.accept(
                    token, password, passwords=current_app.extensions["idp.passwords"], at=at
                )
            except WeakPassword as exc:
                error, status = refusal(exc)
            else:
                flash(gettext("Your account is ready. Sign in with your new password."), "notice")
                return redirect(url_for("signin.password"))
    return render_template("admin/activate.html", email=user.email, error=error), status
