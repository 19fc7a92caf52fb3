"""The challenge: TOTP replay, email code expiry and tries, recovery codes, lock-out, audit."""

from __future__ import annotations

from sqlalchemy import select

from idp.authn import recovery_code
from idp.clock import now
from idp.extensions import db
from idp.models.audit_event import AuditEvent
from idp.models.user import User
from tests.support import (
    RelyingParty,
    SignInFlow,
    code_in_mail,
    csrf_of,
    latest_mail,
    make_client,
    make_user,
    totp_now,
)


def at_challenge(app, client, secret_rp=None, **extra) -> SignInFlow:
    _, secret = make_client(app) if secret_rp is None else ("rp", secret_rp)
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start(**extra)
    flow.password()
    while not flow.location.startswith("/signin/verify"):
        flow.follow()
    return flow


def post_code(client, url: str, code: str):
    page = client.get(url)
    return client.post(url, data={"csrf_token": csrf_of(page), "code": code})


def events(app, name: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_returning_user_signs_in_with_the_app(app, client, ada):
    _, secret = ada
    _, client_secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=client_secret))
    exchange = flow.authorize_and_exchange(secret)
    assert exchange.claims["amr"] == ["pwd", "otp", "totp", "mfa"]
    [event] = events(app, "second_factor.verified")
    assert event.detail["factor"] == "totp" and event.client_id == "rp" and event.ip
    assert event.user_agent is not None


def test_a_totp_code_is_accepted_once_even_from_another_browser(app, ada):
    _, secret = ada
    first, second = app.test_client(), app.test_client()
    flow_one = at_challenge(app, first)
    flow_two = at_challenge(app, second, secret_rp="unused")
    code = totp_now(secret, app=app)
    assert post_code(first, flow_one.location, code).status_code == 302
    replay = post_code(second, flow_two.location, code)
    assert replay.status_code == 400 and "already used" in replay.text
    assert events(app, "second_factor.failed")[0].detail["reason"] == "code_replayed"


def test_a_wrong_code_shows_a_clear_error(app, client, ada):
    flow = at_challenge(app, client)
    response = post_code(client, flow.location, "000000")
    assert response.status_code == 400 and "didn&#39;t work" in response.text


def test_email_code_sign_in_expiry_and_tries(app, client, clock):
    user = make_user(app)
    with app.app_context():
        row = db.session.get(User, user.id)
        row.email_factor_at = now()
        db.session.commit()
    flow = at_challenge(app, client)
    assert "We sent a 6-digit code" in client.get(flow.location).text
    code = code_in_mail(app)
    clock.advance(minutes=10)
    expired = post_code(client, flow.location, code)
    assert expired.status_code == 400 and "expired" in expired.text

    clock.advance(seconds=31)
    page = client.get(flow.location)
    client.post(flow.location, data={"csrf_token": csrf_of(page), "resend-submit": "1"})
    fresh = code_in_mail(app)
    wrong = "000000" if fresh != "000000" else "111111"
    for _ in range(4):
        assert post_code(client, flow.location, wrong).status_code == 400
    over = post_code(client, flow.location, wrong)
    assert "Sign-in ended" in over.text and "wrong code was entered 5 times" in over.text
    # Five wrong codes also end this sign-in; starting again, the spent code stays refused.
    again = at_challenge(app, client, secret_rp="rp-secret")
    clock.advance(seconds=31)  # five wrong codes for the user: the next waits 30 s
    refused = post_code(client, again.location, fresh)
    assert refused.status_code == 400 and "Too many wrong codes" in refused.text


def test_recovery_code_signs_in_once_and_emails_a_notice(app, client, ada, clock):
    user, _ = ada
    with app.app_context():
        codes = recovery_code.issue(user.id, now=now(), app_secret=app.config["SECRET_KEY"])
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    flow = SignInFlow(client, rp)
    flow.start()
    flow.password()
    while not flow.location.startswith("/signin/verify"):
        flow.follow()
    page = client.get(flow.location)
    assert "Try another way" in page.text and "method=recovery_code" in page.text
    url = flow.location + "&method=recovery_code"
    response = post_code(client, url, codes[0].upper())  # case and dashes don't matter
    flow.location = response.location
    params = flow.until_rp()
    claims = rp.verify_id_token(rp.redeem(params["code"]).get_json()["id_token"])
    assert claims["amr"] == ["pwd", "otp", "recovery", "mfa"]
    assert "9" in latest_mail(app) and "recovery code" in latest_mail(app).lower()
    assert events(app, "recovery_code.used")[0].detail["remaining"] == 9

    client.delete_cookie("idp_session")
    again = at_challenge(app, client, secret_rp=client_secret)
    reused = post_code(client, again.location + "&method=recovery_code", codes[0])
    assert reused.status_code == 400


def test_the_method_used_last_is_offered_first(app, client, ada, clock):
    user, _ = ada
    with app.app_context():
        row = db.session.get(User, user.id)
        row.email_factor_at = now()
        row.last_factor = "email_code"
        db.session.commit()
    flow = at_challenge(app, client)
    page = client.get(flow.location).text
    assert "We sent a 6-digit code" in page
    assert "method=totp" in page  # "Try another way"


def test_wrong_codes_end_the_sign_in_then_lock_the_user_and_are_audited(app, ada, clock):
    _, secret = ada
    browser = app.test_client()
    flow = at_challenge(app, browser)
    for _ in range(4):
        assert post_code(browser, flow.location, "000000").status_code == 400
    # The fifth wrong code in one session ends it: the password is asked again.
    assert post_code(browser, flow.location, "000000").status_code == 400
    restart = browser.get(flow.location)
    assert restart.status_code == 302 and "/signin/verify" not in restart.location
    assert events(app, "session.ended_after_failures")
    # The user's count goes on across browsers: waits grow and never reset by themselves.
    other = app.test_client()
    flow_two = at_challenge(app, other, secret_rp="x")
    locked = post_code(other, flow_two.location, "000000")
    assert locked.status_code == 429 and "wait 1 minute" in locked.text
    assert events(app, "second_factor.locked")
    refused = post_code(other, flow_two.location, totp_now(secret, app=app))
    assert refused.status_code == 429, "the right code must wait too"
    clock.advance(seconds=31)
    assert post_code(other, flow_two.location, "000000").status_code == 400  # sixth: 1 min
    clock.advance(seconds=31)
    assert post_code(other, flow_two.location, "000000").status_code == 429
    clock.advance(seconds=30)
    assert post_code(other, flow_two.location, totp_now(secret, app=app)).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(User.mfa_failures)) == 0, "a success ends the streak"


def test_prompt_none_with_only_a_password_is_interaction_required(app, client, ada):
    flow = at_challenge(app, client)
    rp = flow.rp
    response = client.get(rp.authorize_url(prompt="none"))
    params = dict(p.split("=", 1) for p in response.location.split("?", 1)[1].split("&"))
    assert params["error"] == "interaction_required"


def test_the_code_and_resend_forms_need_the_pages_own_csrf_token(app, client, ada):
    """The page writes its CSRF input itself: a right code without it, or with another
    browser's, is refused and verifies nothing; with the page's own it signs in."""
    _, secret = ada
    flow = at_challenge(app, client)
    code = totp_now(secret, app=app)
    foreign = csrf_of(app.test_client().get("/signin"))
    assert client.post(flow.location, data={"code": code}).status_code == 400
    assert client.post(flow.location, data={"code": code, "csrf_token": foreign}).status_code == 400
    resend = {"resend-submit": "1", "csrf_token": foreign}
    assert client.post(flow.location, data=resend).status_code == 400
    assert events(app, "second_factor.verified") == []
    assert post_code(client, flow.location, code).status_code == 302
    assert len(events(app, "second_factor.verified")) == 1
