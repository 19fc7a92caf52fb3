"""After a sign-in with a code: "Sign in faster with a passkey", once (create / not now / never).

A user with no key yet makes their first one from here, so DESIGN's first-key rule applies as on
the account page: the key page asks for a code from the mailbox first unless this browser is
already trusted for the user. The key is bound in this sign-in, never its phishing-resistant proof.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response  # what redirect() returns

from idp import audit
from idp.authn import passkey_offer, policy
from idp.authn.factors import Factor
from idp.authn.inputs import enrolled_factors, policy_for
from idp.authn.state import Step
from idp.clock import now
from idp.extensions import limiter
from idp.models.user import User
from idp.web import browser, current, gating
from idp.web.forms import ConfirmForm
from idp.web.gating import Gate
from idp.web.signin import after_step, bp

# The policy has nothing left to ask: the sign-in is through (consent may follow).
_SIGNED_IN = (Step.DONE, Step.CONSENT)


def offer_or_continue(gate: Gate, used: Factor) -> Response:
    """Where a sign-in that just verified `used` goes: the offer when it is due, else on."""
    user, rid = gate.user, gate.rid
    assert user is not None
    settings = current.settings()
    client = gate.view.client if gate.view else None
    due = policy.passkey_offer_due(
        used=used,
        enrolled=enrolled_factors(user),
        offer_on=policy_for(client, settings).passkey_offer,
        prompt_none=gate.requirements.prompt_none,  # the policy's input, parsed once
        declined=user.passkey_offer_declined_at is not None,
        snoozed_until=user.passkey_offer_snoozed_until,
        now=now(),
    )
    if not due:
        return after_step(rid)
    browser.open_passkey_offer(rid)
    audit.record(
        "passkey_offer.shown", user_id=user.id, client_id=client.client_id if client else None
    )
    return redirect(url_for("signin.passkey_offer", rid=rid))


def offer_admits(gate: Gate) -> bool:
    """The key pages may serve this signed-in request: its passkey offer was accepted."""
    return (
        gate.user is not None
        and gate.decision.step in _SIGNED_IN
        and browser.passkey_offer_open(gate.rid)
    )


@bp.route("/passkey-offer", methods=["GET", "POST"], endpoint="passkey_offer")
@limiter.limit("30/minute", methods=["POST"])
def passkey_offer_page() -> Response | str:
    """Create a passkey now, not now (asked again in some days), or don't ask again."""
    gate = gating.check(request.args.get("rid"))
    rid = gate.rid
    if not offer_admits(gate):
        return after_step(rid)
    user: User = gate.user  # type: ignore[assignment]  # offer_admits checked it
    form = ConfirmForm()
    if form.validate_on_submit():
        answer = request.form.get("answer", "")
        client_id = gate.view.client.client_id if gate.view else None
        if answer == "create":
            return redirect(url_for("signin.enroll_webauthn", rid=rid))
        browser.close_passkey_offer()
        if answer == "never":
            passkey_offer.decline(user, at=now(), client_id=client_id)
        else:
            days = current.settings().passkey_offer_snooze_days
            passkey_offer.snooze(user, at=now(), days=days, client_id=client_id)
        return after_step(rid)
    return render_template("signin/passkey_offer.html", view=gate.view, rid=rid, form=form)
