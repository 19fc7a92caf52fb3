"""Phishable factors cannot mint, add or remove what counts as strong (issue: takeover paths)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from idp.clock import now
from idp.extensions import db
from idp.models.trusted_device import TrustedDevice
from idp.models.user import User
from idp.models.webauthn_credential import WebAuthnCredential
from tests.soft_authenticator import (
    SoftAuthenticator,
    assert_key,
    confirm_first_key,
    give_key,
    register_key,
)
from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    latest_mail,
    make_client,
    make_user,
    query,
    submit,
)


def signed_in_with_totp(app: Flask, client: FlaskClient, secret: str) -> None:
    """A full sign-in through an RP, second step by the authenticator app."""
    _, rp_secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=rp_secret))
    flow.start()
    flow.password()
    while not flow.location.startswith("/signin/verify"):
        flow.follow()
    flow.location += "&method=totp"
    flow.totp(secret)
    flow.until_rp()


def keys_of(app: Flask, user_id: int) -> int:
    with app.app_context():
        return len(WebAuthnCredential.of_user(user_id))


def test_totp_step_up_cannot_mint_recovery_codes_while_a_key_guards(app, client):
    """Step up with TOTP, make new codes, use one as 'strong', remove the key: stopped at 2."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    give_key(app, user.id, SoftAuthenticator())
    signed_in_with_totp(app, client, secret)
    page = client.get("/account/security")
    minted = client.post("/account/recovery-codes", data={"csrf_token": csrf_of(page)})
    assert minted.status_code == 302
    assert minted.location.startswith("/account/verify?strong=1")
    assert "Use my security key or passkey" in client.get(minted.location).text
    assert "Code from your authenticator app" not in client.get(minted.location).text


def test_codes_minted_in_this_session_are_not_strong(app, client, clock):
    """Without a key the user may mint codes, but using one now proves nothing strong."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    signed_in_with_totp(app, client, secret)
    page = client.get("/account/security")
    client.post("/account/recovery-codes", data={"csrf_token": csrf_of(page)})
    codes_page = client.get("/signin/recovery-codes")
    code = re.findall(r"<li>([a-z0-9]{5}-[a-z0-9]{5})</li>", codes_page.text)[0]
    strong = submit(client, "/account/verify?strong=1", {"code": code})
    assert strong.status_code == 302
    follow = client.get(strong.location)
    assert follow.status_code == 200
    # The session holds the fresh code, yet the strong step-up is still missing.
    with client.session_transaction() as kept:
        assert any(f["factor"] == "recovery_code" and f["new"] for f in kept["factors"])
    give_key(app, user.id, SoftAuthenticator())
    with app.app_context():
        key_id = WebAuthnCredential.of_user(user.id)[0].id
    page = client.get("/account/security")
    removal = client.post(
        f"/account/factors/webauthn/{key_id}/remove", data={"csrf_token": csrf_of(page)}
    )
    assert removal.location.startswith("/account/verify?strong=1")
    assert keys_of(app, user.id) == 1


def test_a_second_key_needs_the_first_one(app, client):
    """A thief with password + TOTP cannot add their own passkey to remove the owner's."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    owner_key = SoftAuthenticator()
    give_key(app, user.id, owner_key)
    signed_in_with_totp(app, client, secret)
    added = client.get("/account/factors/add/webauthn")
    assert added.location.startswith("/account/verify?strong=1")
    page = client.get("/account/security")
    refused = client.post(
        "/signin/webauthn/register/options", headers={"X-CSRFToken": csrf_of(page)}
    )
    assert refused.status_code == 403
    assert keys_of(app, user.id) == 1
    # With the owner's key, adding is allowed (and announced by mail).
    strong_page = client.get(added.location)
    assert_key(client, None, owner_key, csrf=csrf_of(strong_page))
    register_key(client, None, SoftAuthenticator(), name="Spare", csrf=csrf_of(page))
    assert keys_of(app, user.id) == 2
    assert "Spare" in latest_mail(app)


def test_a_first_key_from_the_account_page_needs_the_mailbox(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    signed_in_with_totp(app, client, secret)
    page = client.get("/account/security")
    refused = client.post(
        "/signin/webauthn/register/options", headers={"X-CSRFToken": csrf_of(page)}
    )
    assert refused.status_code == 403 and "emailed" in refused.get_json()["error"]
    confirm_first_key(client, None)
    register_key(client, None, SoftAuthenticator(), name="Laptop", csrf=csrf_of(page))
    assert keys_of(app, user.id) == 1
    assert "Laptop" in latest_mail(app)


def test_a_registered_key_is_not_a_strong_step_up(app, client):
    """The key just added (registration) does not count as strong for removing another."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    signed_in_with_totp(app, client, secret)
    page = client.get("/account/security")
    confirm_first_key(client, None)
    register_key(client, None, SoftAuthenticator(), name="New", csrf=csrf_of(page))
    with app.app_context():
        key_id = WebAuthnCredential.of_user(user.id)[0].id
    page = client.get("/account/security")
    removal = client.post(
        f"/account/factors/webauthn/{key_id}/remove", data={"csrf_token": csrf_of(page)}
    )
    assert removal.location.startswith("/account/verify?strong=1")


def test_phr_client_offers_no_checkbox_and_skips_nothing(app, client):
    """Amended rule 5: a phishing-resistant client is never answered by a trusted device."""
    user = make_user(app)
    key = SoftAuthenticator()
    give_key(app, user.id, key)
    _, secret = make_client(app, "bank", mfa_policy="phishing_resistant")
    rp = RelyingParty(client, client_id="bank", secret=secret)
    flow = SignInFlow(client, rp)
    flow.start()
    flow.password()
    while not flow.location.startswith("/signin/verify"):
        flow.follow()
    page = client.get(flow.location)
    assert "Do not challenge me" not in page.text
    rid = flow.location.split("rid=")[1]
    flow.location = assert_key(client, rid, key, remember=True)["redirect"]
    claims = rp.verify_id_token(rp.redeem(flow.until_rp()["code"]).get_json()["id_token"])
    assert claims["acr"] == "urn:idp:acr:phr"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TrustedDevice)) == 0


def test_a_device_trusted_before_the_client_turned_phr_does_not_skip(app, client, clock):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    give_key(app, user.id, SoftAuthenticator())
    _, rp_secret = make_client(app, "bank")
    rp = RelyingParty(client, client_id="bank", secret=rp_secret)
    flow = SignInFlow(client, rp)
    flow.start()
    flow.password()
    while not flow.location.startswith("/signin/verify"):
        flow.follow()
    flow.location += "&method=totp"
    flow.totp(secret, remember=True)
    flow.until_rp()
    with app.app_context():
        from idp.models.client import Client

        Client.by_client_id("bank").mfa_policy = "phishing_resistant"
        db.session.commit()
    clock.advance(seconds=13 * 3600)  # the session's factors are stale
    again = SignInFlow(client, rp)
    again.start()
    params = None
    for _ in range(6):
        if again.location.startswith(rp.redirect_uri):
            params = query(again.location)
            break
        if again.location.startswith("/signin?"):
            again.password()
            continue
        if again.location.startswith("/signin/verify"):
            break
        again.follow()
    assert params is None and again.location.startswith("/signin/verify")


def test_a_recovery_code_used_for_step_up_mails_like_at_sign_in(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    signed_in_with_totp(app, client, secret)
    with app.app_context():
        from idp.authn import recovery_code

        codes = recovery_code.issue(user.id, now=now(), app_secret="test-secret-key")
        db.session.get(User, user.id)
    submit(client, "/account/verify?method=recovery_code", {"code": codes[0]})
    assert "recovery code" in latest_mail(app).lower()
