"""DESIGN.md "Trusted devices": per client, absolute, revoked on every listed event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.clock import now
from idp.extensions import db
from idp.models.audit_event import AuditEvent
from idp.models.trusted_device import TrustedDevice
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
)

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture
def world(app):
    """Ada with an authenticator app; clients A and B, both allowing 30 remembered days."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, secret_a = make_client(app, "rp-a")
    _, secret_b = make_client(app, "rp-b")
    return {"user": user, "totp": secret, "a": secret_a, "b": secret_b}


def browser(app, agent: str = CHROME) -> FlaskClient:
    """A browser with its own cookie jar and User-Agent."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    return client


def events(app, name: str) -> list[AuditEvent]:
    """The audit trail's events of one kind, oldest first."""
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)
        return list(db.session.scalars(query))


def device_ids(app, world) -> list[int]:
    """Ada's live trusted devices."""
    with app.app_context():
        return [record.id for record in TrustedDevice.of_user(world["user"].id, now())]


def session_ends(client: FlaskClient) -> None:
    """The browser session ends (closed, idle, signed out); the device cookie stays."""
    client.delete_cookie("idp_session")


def sign_in(client, world, rp_id="rp-a", *, remember=False, clock=None, **extra):
    """Authorize at an RP; answer a TOTP challenge if one comes. Returns (claims, challenged)."""
    rp = RelyingParty(client, client_id=rp_id, secret=world["a" if rp_id == "rp-a" else "b"])
    flow = SignInFlow(client, rp)
    flow.start(**extra)
    if flow.location.startswith("/signin?"):
        flow.password()
    while flow.location.startswith("/authorize/resume/"):
        flow.follow()
    challenged = flow.location.startswith("/signin/verify")
    if challenged:
        if clock is not None:
            clock.advance(seconds=30)  # a TOTP code is accepted once per step
        flow.totp(world["totp"], remember=remember)
    params = flow.until_rp()
    if "code" not in params:
        return params, challenged
    tokens = rp.redeem(params["code"]).get_json()
    return rp.verify_id_token(tokens["id_token"]), challenged


def test_ticked_box_skips_the_challenge_for_that_client_only(app, world, clock):
    ada = browser(app)
    claims, challenged = sign_in(ada, world, remember=True, clock=clock)
    assert challenged and claims["amr"] == ["pwd", "otp", "totp", "mfa"]
    assert claims["acr"] == "urn:idp:acr:mfa"

    session_ends(ada)
    claims, challenged = sign_in(ada, world, clock=clock)
    assert not challenged
    # DESIGN.md: we never claim a factor that was not verified now.
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:idp:acr:remembered"

    session_ends(ada)
    claims, challenged = sign_in(ada, world, "rp-b", clock=clock)
    assert challenged, "trust for client A skipped the challenge for client B"
    assert claims["acr"] == "urn:idp:acr:mfa"


def test_unticked_box_never_skips(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=False, clock=clock)
    session_ends(ada)
    _, challenged = sign_in(ada, world, clock=clock)
    assert challenged


def test_the_checkbox_names_the_clients_days_and_is_absent_when_disabled(app, world):
    make_client(app, "short", remember_days=7)
    make_client(app, "never", remember_device=False)
    for rp_id, expected in (("short", "for the next 7 days"), ("never", None)):
        client = browser(app)
        flow = SignInFlow(client, RelyingParty(client, client_id=rp_id))
        flow.start()
        flow.password()
        while not flow.location.startswith("/signin/verify"):
            flow.follow()
        page = client.get(flow.location).text
        if expected:
            assert "Do not challenge me on this device " + expected in page
        else:
            assert "Do not challenge me" not in page


def test_trust_ends_after_exactly_n_days_not_a_second_earlier(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    clock.advance(days=30, seconds=-31)  # the challenge happened 30 s into the first sign-in
    session_ends(ada)
    _, challenged = sign_in(ada, world)
    assert not challenged, "trust ended early"
    clock.advance(seconds=32)
    session_ends(ada)
    _, challenged = sign_in(ada, world, clock=clock)
    assert challenged, "trust outlived its N days"


def test_trust_is_absolute_use_does_not_extend_it(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    for _ in range(3):
        clock.advance(days=10)
        session_ends(ada)
        sign_in(ada, world, clock=clock)
    session_ends(ada)
    _, challenged = sign_in(ada, world, clock=clock)
    assert challenged


def test_a_copied_device_cookie_grants_another_user_nothing(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    make_user(app, "bob@example.com")
    with app.app_context():
        from idp.models.user import User

        bob_id = User.by_email("bob@example.com").id
    bob_secret = enroll_totp(app, bob_id)
    bob = browser(app)
    bob.set_cookie("idp_device", ada.get_cookie("idp_device").value)
    flow = SignInFlow(
        bob, RelyingParty(bob, client_id="rp-a", secret=world["a"]), email="bob@example.com"
    )
    flow.start()
    flow.password()
    assert flow.location.startswith("/signin/verify")
    flow.totp(bob_secret)


def test_a_cookie_copied_into_another_browser_is_challenged(app, world, clock):
    ada = browser(app, CHROME)
    sign_in(ada, world, remember=True, clock=clock)
    thief = browser(app, FIREFOX)
    thief.set_cookie("idp_device", ada.get_cookie("idp_device").value)
    _, challenged = sign_in(thief, world, clock=clock)
    assert challenged
    [mismatch] = events(app, "trusted_device.agent_mismatch")
    [device_id] = device_ids(app, world)
    assert (mismatch.user_id, mismatch.client_id) == (world["user"].id, "rp-a")
    assert mismatch.detail == {
        "device_id": device_id,
        "trusted_agent": "Chrome on Windows",
        "agent": "Firefox on Linux",
    }
    assert mismatch.user_agent == FIREFOX
    assert not events(app, "second_factor.skipped_trusted_device")


def test_a_skipped_challenge_is_audited_with_the_device(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    assert not events(app, "second_factor.skipped_trusted_device")
    session_ends(ada)
    _, challenged = sign_in(ada, world, clock=clock)
    assert not challenged
    [skip] = events(app, "second_factor.skipped_trusted_device")
    assert (skip.user_id, skip.client_id) == (world["user"].id, "rp-a")
    assert skip.detail == {"device_id": device_ids(app, world)[0]}
    assert not events(app, "trusted_device.agent_mismatch")


def test_step_up_acr_mfa_challenges_a_trusted_device(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    session_ends(ada)
    claims, challenged = sign_in(ada, world, clock=clock, acr_values="urn:idp:acr:mfa")
    assert challenged and claims["acr"] == "urn:idp:acr:mfa" and "otp" in claims["amr"]


def test_essential_acr_in_the_claims_parameter_also_steps_up(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    session_ends(ada)
    claims_param = '{"id_token": {"acr": {"essential": true, "values": ["urn:idp:acr:mfa"]}}}'
    claims, challenged = sign_in(ada, world, clock=clock, claims=claims_param)
    assert challenged and claims["acr"] == "urn:idp:acr:mfa"


def test_prompt_none_with_a_trusted_device_but_no_session_is_login_required(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    session_ends(ada)
    params, _ = sign_in(ada, world, prompt="none")
    assert params["error"] == "login_required"


def test_a_trusted_device_never_skips_the_password(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    session_ends(ada)
    flow = SignInFlow(ada, RelyingParty(ada, client_id="rp-a", secret=world["a"]))
    flow.start()
    assert flow.location.startswith("/signin?")


def _revoked_by(app, ada, world, clock, action) -> bool:
    sign_in(ada, world, remember=True, clock=clock)
    action()
    session_ends(ada)
    _, challenged = sign_in(ada, world, clock=clock)
    return challenged


def test_forget_this_device_and_forget_all(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    page = ada.get("/account/security")
    assert "Chrome on Windows" in page.text and "RP-A Portal" in page.text
    with app.app_context():
        device_id = TrustedDevice.of_user(world["user"].id, now())[0].id
    ada.post(f"/account/devices/{device_id}/forget", data={"csrf_token": csrf_of(page)})
    assert "No device skips the second step" in ada.get("/account/security").text
    session_ends(ada)
    _, challenged = sign_in(ada, world, clock=clock, remember=True)
    assert challenged

    def forget_all():
        page = ada.get("/account/security")
        ada.post("/account/devices/forget-all", data={"csrf_token": csrf_of(page)})

    assert _revoked_by(app, ada, world, clock, forget_all)


def test_password_change_revokes_trust(app, world, clock):
    ada = browser(app)

    def change():
        page = ada.get("/account/security")
        response = ada.post(
            "/account/password",
            data={
                "csrf_token": csrf_of(page),
                "current": PASSWORD,
                "new": "quiet-lantern-harbor-58",
            },
        )
        assert response.status_code == 302
        world_password["value"] = "quiet-lantern-harbor-58"

    world_password = {"value": PASSWORD}
    sign_in(ada, world, remember=True, clock=clock)
    change()
    session_ends(ada)
    flow = SignInFlow(
        ada,
        RelyingParty(ada, client_id="rp-a", secret=world["a"]),
        password=world_password["value"],
    )
    flow.start()
    flow.password()
    assert flow.location.startswith("/signin/verify")


def test_sign_out_everywhere_ends_sessions_and_trust(app, world, clock):
    ada, other = browser(app), browser(app)
    sign_in(other, world, clock=clock)
    sign_in(ada, world, remember=True, clock=clock)
    page = ada.get("/account/security")
    ada.post("/account/sign-out-everywhere", data={"csrf_token": csrf_of(page)})
    assert other.get("/account/security").status_code == 302
    _, challenged = sign_in(ada, world, clock=clock)
    assert challenged


def test_removing_a_factor_revokes_trust(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    with app.app_context():
        from idp.models.user import User

        user = db.session.get(User, world["user"].id)
        user.email_factor_at = now()
        db.session.commit()
    page = ada.get("/account/security")
    response = ada.post("/account/factors/email_code/0/remove", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302 and response.location.endswith("/account/security")
    session_ends(ada)
    _, challenged = sign_in(ada, world, clock=clock)
    assert challenged


def test_client_raising_its_policy_revokes_trust(app, world, clock):
    from sqlalchemy import select

    from idp.manage import clients
    from idp.manage.actor import CLI
    from idp.models.client import Client
    from idp.models.trusted_device import TrustedDevice

    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    with app.app_context():
        client = Client.by_client_id("rp-a")
        clients.update(client, {"mfa_policy": "phishing_resistant"}, actor=CLI)
        [record] = db.session.scalars(select(TrustedDevice)).all()
        assert record.revoked_at is not None, "raising the policy ends the client's trust"


class TestReverification:
    @pytest.fixture
    def overrides(self):
        return {"reverify_days": 7}

    def test_reverify_days_challenges_inside_the_window_without_moving_its_end(
        self, app, world, clock
    ):
        ada = browser(app)
        sign_in(ada, world, remember=True, clock=clock)
        with app.app_context():
            expires = TrustedDevice.of_user(world["user"].id, now())[0].expires_at
        clock.advance(days=7)
        session_ends(ada)
        _, challenged = sign_in(ada, world, clock=clock)
        assert challenged
        session_ends(ada)
        _, challenged = sign_in(ada, world, clock=clock)
        assert not challenged, "passing the re-verification should keep the trust"
        with app.app_context():
            [record] = TrustedDevice.of_user(world["user"].id, now())
            assert record.expires_at == expires


def test_device_cookie_is_httponly_lax_and_stored_hashed(app, world, clock):
    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    cookie = ada.get_cookie("idp_device")
    assert cookie.http_only and cookie.same_site == "Lax"
    with app.app_context():
        [record] = TrustedDevice.of_user(world["user"].id, now())
        assert cookie.value not in record.device_hash
        assert record.expires_at - record.created_at == timedelta(days=30)


def test_a_password_reset_revokes_trust(app, world, clock):
    import re

    from tests.support import latest_mail, submit, totp_now

    ada = browser(app)
    sign_in(ada, world, remember=True, clock=clock)
    helper = browser(app)
    submit(helper, "/signin/forgot", {"email": "ada@example.com"})
    link = re.search(r"http://localhost(/signin/reset/\S+)", latest_mail(app)).group(1)
    clock.advance(seconds=30)
    submit(helper, link, {"code": totp_now(world["totp"], app=app)})
    assert submit(helper, link, {"password": "quiet-lantern-harbor-58"}).status_code == 302
    session_ends(ada)
    flow = SignInFlow(
        ada,
        RelyingParty(ada, client_id="rp-a", secret=world["a"]),
        password="quiet-lantern-harbor-58",
    )
    flow.start()
    flow.password()
    assert flow.location.startswith("/signin/verify"), "trust survived a password reset"
