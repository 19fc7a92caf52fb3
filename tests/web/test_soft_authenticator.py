"""The software authenticator against the real WebAuthn endpoints: py_webauthn verifies it."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from idp.models.webauthn_credential import WebAuthnCredential
from tests.soft_authenticator import (
    SoftAuthenticator,
    assert_key,
    confirm_first_key,
    give_key,
    passkey_sign_in,
    register_key,
)
from tests.support import RelyingParty, SignInFlow, csrf_of, make_client, make_user


def at_step(flow: SignInFlow, path: str) -> str:
    """Follow the provider until `path`; the rid of the sign-in."""
    flow.password()
    for _ in range(6):
        if flow.location.startswith(path):
            return flow.location.split("rid=")[1]
        flow.follow()
    raise AssertionError(f"never reached {path}; stopped at {flow.location}")


def claims_at_rp(flow: SignInFlow) -> dict:
    """Follow to the RP, redeem the code, verify the ID token."""
    params = flow.until_rp()
    tokens = flow.rp.redeem(params["code"]).get_json()
    return flow.rp.verify_id_token(tokens["id_token"])


def signed_in_to_verify(app: Flask, secret: str | None) -> tuple[FlaskClient, SignInFlow, str]:
    """A fresh browser, password typed, at the second-factor page."""
    browser = app.test_client()
    flow = SignInFlow(browser, RelyingParty(browser, secret=secret))
    flow.start()
    return browser, flow, at_step(flow, "/signin/verify")


def test_enroll_a_key_then_sign_in_with_password_and_key(app, client):
    user = make_user(app)
    _, secret = make_client(app)
    key = SoftAuthenticator()

    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    rid = at_step(flow, "/signin/enroll")  # never enrolled: the policy asks
    confirm_first_key(client, rid)  # a first key needs the mailbox
    answer = register_key(client, rid, key, name="Laptop")
    assert answer["redirect"].startswith("/signin/recovery-codes")  # the first factor
    codes = client.get(answer["redirect"])
    flow.location = client.post(answer["redirect"], data={"csrf_token": csrf_of(codes)}).location
    assert "hwk" in claims_at_rp(flow)["amr"]
    with app.app_context():
        [row] = WebAuthnCredential.of_user(user.id)
        assert row.credential_id == key.credential().id and row.name == "Laptop"
        assert row.user_verified and not row.backup_eligible

    browser, flow, rid = signed_in_to_verify(app, secret)
    flow.location = assert_key(browser, rid, key)["redirect"]
    amr = claims_at_rp(flow)["amr"]
    assert {"pwd", "hwk", "user", "mfa"} <= set(amr)
    with app.app_context():
        assert WebAuthnCredential.of_user(user.id)[0].sign_count == key.credential().sign_count


def test_answers_from_elsewhere_or_a_copy_are_refused(app):
    user = make_user(app)
    _, secret = make_client(app)
    key = SoftAuthenticator()
    give_key(app, user.id, key)

    browser, flow, rid = signed_in_to_verify(app, secret)
    for wrong in (
        {"origin": "https://idp.example.evil"},
        {"cross_origin": True},
        {"rp_id": "evil.example"},
        {"type_": "webauthn.create"},
    ):
        answer = assert_key(browser, rid, key, status=400, **wrong)
        assert "couldn" in answer["error"], wrong
    flow.location = assert_key(browser, rid, key)["redirect"]
    assert "hwk" in claims_at_rp(flow)["amr"]

    key.credential().sign_count = 0  # a copy made before the last use
    browser, flow, rid = signed_in_to_verify(app, secret)
    answer = assert_key(browser, rid, key, status=400)
    assert "could not be trusted" in answer["error"]


def test_another_users_key_is_refused(app):
    ada = make_user(app)
    eve = make_user(app, "eve@example.com")
    ada_key, eve_key = SoftAuthenticator(), SoftAuthenticator()
    give_key(app, ada.id, ada_key)
    give_key(app, eve.id, eve_key)
    _, secret = make_client(app)
    browser, _, rid = signed_in_to_verify(app, secret)
    # Eve's key answers with its own credential, whatever allowCredentials says.
    answer = assert_key(browser, rid, eve_key, status=400, credential=eve_key.credential())
    assert "couldn" in answer["error"]


def test_a_synced_passkey_signs_in_without_a_password(app, client):
    user = make_user(app)
    _, secret = make_client(app)
    passkey = SoftAuthenticator(backup_eligible=True, attachment="platform", counter_step=0)
    passkey.transports = ("internal", "hybrid")
    give_key(app, user.id, passkey, name="Phone")

    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    rid = flow.location.split("rid=")[1]
    flow.location = passkey_sign_in(client, rid, passkey)["redirect"]
    amr = claims_at_rp(flow)["amr"]
    assert "pwd" not in amr and {"swk", "user", "mfa"} <= set(amr)

    # Without user verification a passkey is not enough.
    browser = app.test_client()
    flow = SignInFlow(browser, RelyingParty(browser, secret=secret))
    flow.start()
    rid = flow.location.split("rid=")[1]
    answer = passkey_sign_in(browser, rid, passkey, status=400, user_verified=False)
    assert "couldn" in answer["error"]
    with app.app_context():
        [row] = WebAuthnCredential.of_user(user.id)
        assert row.sign_count == 0 and row.backup_eligible
