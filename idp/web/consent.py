"""The consent step: what the client asks for, approved or denied by the user."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response  # what redirect() returns; flask's is a subclass

from idp.authn.state import Step
from idp.errors import SignInExpired
from idp.oidc import consent
from idp.oidc.protocol import scope_to_list
from idp.web import authorization, browser, gating
from idp.web.forms import ConsentForm
from idp.web.scopes import describe


def handle_consent(rid: str) -> Response | str:
    """Show (GET) or record (POST) the user's answer, then resume the request."""
    gate = gating.check(rid)
    view, user = gate.view, gate.user
    if view is None or user is None:
        raise SignInExpired()
    if gate.decision.step is not Step.DONE:
        # Consent comes after sign-in, never instead of part of it.
        return redirect(url_for("provider.resume", rid=rid))
    params, _ = browser.pending_request(rid) or ({}, None)
    # Exactly the scope the code will carry (Authlib cuts it with the same call), and
    # claims.user_info releases nothing beyond it: the page lists what is released.
    scopes = scope_to_list(view.client.get_allowed_scope(params.get("scope", ""))) or []
    form = ConsentForm()
    if request.method == "POST" and form.validate_on_submit():
        if form.allow.data:
            consent.grant(user.id, view.client.client_id, scopes)
            browser.set_pending_flag(rid, "consented", True)
        else:
            consent.deny(user.id, view.client.client_id)
            browser.set_pending_flag(rid, "denied", True)
        return authorization.resume(rid)  # the app with its code (or error): no hop
    return render_template(
        "provider/consent.html", view=view, items=describe(scopes), form=form, user=user
    )
