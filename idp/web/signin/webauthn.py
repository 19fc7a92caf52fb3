"""Security keys and passkeys: the JSON ceremonies behind the sign-in pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response  # what redirect() returns

from idp import audit
from idp.authn import policy, second_factor, trusted_device, webauthn
from idp.authn.factors import Factor
from idp.authn.inputs import enrolled_factors, policy_for
from idp.authn.second_factor import Attempt, Purpose
from idp.authn.state import MfaPolicy, Step, VerifiedFactor
from idp.clock import now
from idp.extensions import db, limiter
from idp.manage import users
from idp.models.user import User
from idp.web import browser, current, device_trust, gating
from idp.web.guards import local_next
from idp.web.signin import after_step_url, bp, elsewhere, signed_in_first_step
from idp.web.signin.email_form import handle_email_code
from idp.web.signin.enroll import _enroll_gate, finish_enrollment
from idp.web.signin.passkey_offer import offer_admits

CHALLENGE_TTL = timedelta(minutes=5)


def _take_challenge(purpose: str) -> str:
    """The kept challenge, once: single use and 5 minutes, or WebAuthnFailed."""
    challenge = browser.take_webauthn_challenge(purpose)
    if challenge is None:
        raise webauthn.WebAuthnFailed()
    return challenge


def _take_passkey_challenge() -> tuple[str, datetime]:
    """The passkey challenge from its signed cookie and when it was issued, or WebAuthnFailed.

    Not kept in the session: the sign-in page asks for it on every view (autofill), and a
    stranger's page views must not each make a session row. Single use: `issued_at`.
    """
    kept = browser.take_passkey_challenge()
    if kept is None:
        raise webauthn.WebAuthnFailed()
    return kept


def _options(ceremony: webauthn.Ceremony, purpose: str) -> Response:
    browser.keep_webauthn_challenge(purpose, ceremony.challenge, now() + CHALLENGE_TTL)
    return _options_json(ceremony)


def _options_json(ceremony: webauthn.Ceremony) -> Response:
    response = Response(ceremony.options_json, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error=str(message)), status


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _credential() -> dict[str, Any]:
    credential = _body().get("credential")
    if not isinstance(credential, dict):
        raise webauthn.WebAuthnFailed()
    return credential


def _settings_args() -> dict[str, Any]:
    settings = current.settings()
    return {"rp_id": settings.webauthn_rp_id, "origins": settings.webauthn_allowed_origins}


# Registration -----------------------------------------------------------------------
def _needs_confirmation(user: User) -> bool:
    """DESIGN: a user's first key needs the mailbox or a browser already trusted for them:
    trusted before this sign-in, so not by its own "Do not challenge me" checkbox."""
    state = browser.session_state()
    trusted = trusted_device.known_browser(
        user.id,
        browser.device_token(),
        at=now(),
        agent=gating.agent(),  # a device cookie copied into another browser confirms nothing
        trusted_before=state.password_at if state is not None else now(),
    )
    return policy.first_key_needs_confirmation(
        enrolled_factors(user),
        trusted_browser=trusted,
        mailbox_confirmed_at=browser.mailbox_confirmed_at(),
        now=now(),
    )


@bp.route("/enroll/webauthn", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def enroll_webauthn() -> Response | tuple[str, int] | str:
    """Confirm by email when it is the first key, name the key, then let the browser create it."""
    gate, ok = _enroll_gate(Factor.WEBAUTHN)
    if not ok or gate.user is None:
        return elsewhere(gate)
    phr = gate.view is not None and gate.view.client.mfa_policy == MfaPolicy.PHISHING_RESISTANT
    offer = offer_admits(gate)  # from "Sign in faster with a passkey": the sign-in is done
    if _needs_confirmation(gate.user):
        state = handle_email_code(gate.user, "confirm_key")
        if not state.accepted:
            return render_template(
                "signin/confirm_key.html",
                view=gate.view,
                rid=gate.rid,
                state=state,
                user=gate.user,
                phr=phr,
                offer=offer,
            ), state.status
        browser.confirm_mailbox(now())
        audit.record("webauthn.first_key_confirmed", user_id=gate.user.id, via="email_code")
        return redirect(url_for("signin.enroll_webauthn", rid=gate.rid))
    return render_template(
        "signin/enroll_webauthn.html",
        view=gate.view,
        rid=gate.rid,
        phr=phr,
        offer=offer,
        # The second step already answered "Do not challenge me": not asked twice.
        remember_days=None
        if offer
        else gating.remember_days(gate.view.client if gate.view else None),
    )


@bp.post("/webauthn/register/options")
@limiter.limit("30/minute")
def register_options() -> Response | tuple[Response, int]:
    """Creation options for navigator.credentials.create()."""
    gate, ok = _enroll_gate(Factor.WEBAUTHN)
    if not ok or gate.user is None:
        return _refused("Please start signing in again.", 403)
    if _needs_confirmation(gate.user):
        return _refused("Please confirm the code we emailed you first.", 403)
    ceremony = webauthn.registration_options(
        gate.user, rp_id=current.settings().webauthn_rp_id, rp_name=current.settings().product_name
    )
    return _options(ceremony, "register")


@bp.post("/webauthn/register")
@limiter.limit("30/minute")
def register() -> Response | tuple[Response, int]:
    """Verify and save the new credential; answers where to go next."""
    gate, ok = _enroll_gate(Factor.WEBAUTHN)
    if not ok or gate.user is None:
        return _refused("Please start signing in again.", 403)
    if _needs_confirmation(gate.user):
        return _refused("Please confirm the code we emailed you first.", 403)
    name = str(_body().get("name") or "Security key")[:80]
    try:
        row = webauthn.register(
            gate.user,
            _credential(),
            name=name,
            challenge=_take_challenge("register"),
            now=now(),
            **_settings_args(),
        )
    except webauthn.WebAuthnFailed as exc:
        db.session.rollback()
        audit.record(
            "factor.enroll_failed", user_id=gate.user.id, factor="webauthn", reason=exc.code
        )
        return _refused(exc.message)
    # Registered, not asserted: the key is bound in this sign-in, not its phr proof.
    verified = VerifiedFactor(
        Factor.WEBAUTHN,
        at=now(),
        user_verified=row.user_verified,
        backup_eligible=row.backup_eligible,
        new=True,
    )
    response = finish_enrollment(
        gate,
        Factor.WEBAUTHN,
        row.name,
        remember=bool(_body().get("remember")),
        verified=verified,
    )
    return jsonify(redirect=response.location)


# Assertions -------------------------------------------------------------------------
FAILURE_EVENTS = {
    "authenticate": "second_factor.failed",
    "reset": "second_factor.failed",
    "passkey": "passkey.failed",
}


def options_for(user: User, purpose: str) -> Response:
    """Request options listing `user`'s credentials; the challenge is kept for `purpose`."""
    return _options(
        webauthn.authentication_options(user, rp_id=current.settings().webauthn_rp_id), purpose
    )


def verify_assertion(
    user: User | None, purpose: str, client_id: str | None
) -> webauthn.Asserted | tuple[Response, int]:
    """Check the browser's assertion against the kept challenge; audit a refusal."""
    try:
        if purpose == "passkey":
            challenge, issued_at = _take_passkey_challenge()
        else:
            challenge, issued_at = _take_challenge(purpose), None
        return webauthn.authenticate(
            _credential(),
            user=user,
            challenge=challenge,
            issued_at=issued_at,
            now=now(),
            **_settings_args(),
        )
    except webauthn.WebAuthnFailed as exc:
        db.session.rollback()
        clone = isinstance(exc, webauthn.PossibleClone)
        audit.record(
            "webauthn.possible_clone" if clone else FAILURE_EVENTS[purpose],
            user_id=user.id if user else None,
            client_id=client_id,
            factor="webauthn",
            reason=exc.code,
        )
        return _refused(exc.message)


def _record(
    user: User, asserted: webauthn.Asserted, *, purpose: Purpose, client_id: str | None
) -> None:
    """The key was verified: it counts in this session and is offered first next time."""
    attempt = Attempt(user=user, purpose=purpose, client_id=client_id)
    browser.add_factor(second_factor.asserted(attempt, asserted, now=now()).factor)


# Second factor ----------------------------------------------------------------------
def _challenge_allowed() -> tuple[User | None, Any]:
    gate = gating.check(request.args.get("rid"))
    if gate.user is None:
        return None, gate
    if gate.decision.step is Step.SECOND_FACTOR and Factor.WEBAUTHN in gate.decision.methods:
        return gate.user, gate
    # Step-up on the account pages: already signed in, confirming again.
    if gate.rid is None and gate.decision.step is Step.DONE:
        return gate.user, gate
    return None, gate


@bp.post("/webauthn/authenticate/options")
@limiter.limit("30/minute")
def authenticate_options() -> Response | tuple[Response, int]:
    """Request options listing the user's credentials."""
    user, _ = _challenge_allowed()
    if user is None:
        return _refused("Please start signing in again.", 403)
    return options_for(user, "authenticate")


@bp.post("/webauthn/authenticate")
@limiter.limit("30/minute")
def authenticate() -> Response | tuple[Response, int]:
    """Verify the assertion as this user's second factor."""
    user, gate = _challenge_allowed()
    if user is None:
        return _refused("Please start signing in again.", 403)
    client_id = gate.view.client.client_id if gate.view else None
    asserted = verify_assertion(user, "authenticate", client_id)
    if not isinstance(asserted, webauthn.Asserted):
        return asserted
    purpose = Purpose.SIGN_IN if gate.rid else Purpose.STEP_UP
    _record(user, asserted, purpose=purpose, client_id=client_id)
    device_trust.after_second_factor(
        user, gate.view.client if gate.view else None, remember=bool(_body().get("remember"))
    )
    done = after_step_url(gate.rid)
    return jsonify(redirect=local_next(done) if gate.rid is None else done)


# Passkey sign-in --------------------------------------------------------------------
def _passkeys_allowed() -> bool:
    view = gating.pending_view(request.args.get("rid"))
    return policy_for(view.client if view else None, current.settings()).passkey_signin


@bp.post("/passkey/options")
@limiter.limit("30/minute")
def passkey_options() -> Response | tuple[Response, int]:
    """Options for a discoverable credential with user verification."""
    if not _passkeys_allowed():
        return _refused("Passkey sign-in is not available here.", 403)
    ceremony = webauthn.authentication_options(None, rp_id=current.settings().webauthn_rp_id)
    issued_at = now()
    # A signed cookie, not the session: this is asked on every sign-in page view (autofill).
    browser.keep_passkey_challenge(ceremony.challenge, issued_at, issued_at + CHALLENGE_TTL)
    return _options_json(ceremony)


@bp.post("/passkey")
@limiter.limit("30/minute")
def passkey() -> Response | tuple[Response, int]:
    """A user-verifying passkey completes both steps at once."""
    if not _passkeys_allowed():
        return _refused("Passkey sign-in is not available here.", 403)
    rid = request.args.get("rid")
    asserted = verify_assertion(None, "passkey", None)
    if not isinstance(asserted, webauthn.Asserted):
        return asserted
    user = db.session.get(User, asserted.credential.user_id)
    if user is None or not user.is_active or not asserted.user_verified:
        return _refused(webauthn.WebAuthnFailed.message)
    browser.begin_sign_in(user.id, now(), password=False)
    signed_in_first_step(rid)
    users.set_time_zone(user, _body().get("time_zone"))
    view = gating.pending_view(rid)
    client_id = view.client.client_id if view else None
    _record(user, asserted, purpose=Purpose.SIGN_IN, client_id=client_id)
    audit.record("passkey.signed_in", user_id=user.id, client_id=client_id)
    return jsonify(redirect=after_step_url(rid))
