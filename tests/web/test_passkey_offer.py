"""'Sign in faster with a passkey': once after a sign-in with a code, never to the wrong people."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models.audit_event import AuditEvent
from idp.models.user import User
from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    make_client,
    update_client,
)
from tests.web.test_webauthn_rules import add_key

OFFER = "/signin/passkey-offer"


@pytest.fixture
def overrides():
    return {"passkey_offer": True}


def sign_in_with_totp(client, secret, totp_secret) -> SignInFlow:
    """Password and authenticator app; stops where the code step sends the browser."""
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    flow.password()
    flow.totp(totp_secret)
    return flow


def answer(client, flow: SignInFlow, choice: str):
    page = client.get(flow.location)
    assert page.status_code == 200
    response = client.post(flow.location, data={"csrf_token": csrf_of(page), "answer": choice})
    flow.location = response.headers.get("Location", "")
    return response


def test_after_a_code_the_offer_shows_once_and_not_now_goes_on_to_the_app(app, client, ada, clock):
    _, totp_secret = ada
    _, secret = make_client(app)
    flow = sign_in_with_totp(client, secret, totp_secret)
    assert flow.location.startswith(OFFER)
    page = client.get(flow.location)
    assert "Sign in faster with a passkey" in page.text
    assert 'value="create"' in page.text and 'value="never"' in page.text
    answer(client, flow, "later")
    assert "code" in flow.until_rp()

    # Another browser within the snooze (a new code: each is accepted once): straight on.
    clock.advance(seconds=30)
    again = sign_in_with_totp(app.test_client(), secret, totp_secret)
    assert not again.location.startswith(OFFER)
    assert "code" in again.until_rp()

    clock.advance(days=15)
    later = sign_in_with_totp(app.test_client(), secret, totp_secret)
    assert later.location.startswith(OFFER), "asked again after some days"


def test_dont_ask_again_is_saved_on_the_account(app, client, ada, clock):
    user, totp_secret = ada
    _, secret = make_client(app)
    flow = sign_in_with_totp(client, secret, totp_secret)
    answer(client, flow, "never")
    assert "code" in flow.until_rp()
    with app.app_context():
        assert db.session.get(User, user.id).passkey_offer_declined_at is not None
        events = db.session.scalars(select(AuditEvent.event)).all()
        assert "passkey_offer.shown" in events and "passkey_offer.declined" in events
    clock.advance(days=400)
    later = sign_in_with_totp(app.test_client(), secret, totp_secret)
    assert not later.location.startswith(OFFER)


def test_a_client_that_turned_it_off_goes_straight_to_the_app(app, ada):
    _, totp_secret = ada
    _, secret = make_client(app)
    update_client(app, "rp", passkey_offer=False)
    flow = sign_in_with_totp(app.test_client(), secret, totp_secret)
    assert not flow.location.startswith(OFFER)
    assert "code" in flow.until_rp()


def test_a_user_who_has_a_key_is_not_offered_one(app, ada):
    user, totp_secret = ada
    add_key(app, user.id)
    _, secret = make_client(app)
    client = app.test_client()
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    flow.password()
    while not flow.location.startswith("/signin/verify"):
        flow.follow()
    flow.location += "&method=totp"  # "Try another way": the app instead of the key
    flow.totp(totp_secret)
    assert not flow.location.startswith(OFFER)
    assert "code" in flow.until_rp()


@pytest.mark.parametrize("overrides", [{"passkey_offer": False}])
def test_the_global_setting_turns_it_off(app, ada):
    _, totp_secret = ada
    _, secret = make_client(app)
    flow = sign_in_with_totp(app.test_client(), secret, totp_secret)
    assert not flow.location.startswith(OFFER)


def test_the_offer_page_is_only_for_the_sign_in_it_was_offered_to(app, client, ada):
    _, totp_secret = ada
    _, secret = make_client(app)
    assert client.get(OFFER).status_code == 302  # nobody signed in
    flow = sign_in_with_totp(client, secret, totp_secret)
    offered_at = flow.location  # the offer's own URL, with the sign-in's rid
    assert client.get(offered_at).status_code == 200
    answer(client, flow, "later")
    offer_again = client.get(offered_at)
    assert offer_again.status_code == 302, "answered: not shown again in this sign-in"
    assert not offer_again.headers["Location"].startswith(OFFER)  # the sign-in is over
    # The sign-in is over (the answer took the browser back to the app): the key page is now
    # the account's own "add a key" (a fresh second factor allows it), no longer the offer's.
    key_page = client.get(offered_at.replace(OFFER, "/signin/enroll/webauthn"))
    assert OFFER not in key_page.text, "nor its way back into the offer"


@pytest.mark.parametrize("remember", [False, True], ids=["plain", "device-trusted-just-now"])
def test_create_asks_the_mailbox_first_for_a_first_key(app, client, ada, remember):
    """DESIGN: password + code is phishable; the first key needs the mailbox (or a browser
    trusted before this sign-in), exactly as adding one from the account page. Ticking "Do not
    challenge me on this device" in this very sign-in does not make the browser trusted."""
    _, totp_secret = ada
    _, secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    flow.password()
    flow.totp(totp_secret, remember=remember)
    response = answer(client, flow, "create")
    assert flow.location.startswith("/signin/enroll/webauthn")
    page = client.get(flow.location)
    assert page.status_code == 200
    assert "we check with your email first" in page.text
    assert 'data-webauthn="register"' not in page.text
    assert response.status_code == 302
    # Before confirming, the browser may not ask for creation options.
    options = client.post(
        flow.location.replace("/signin/enroll/webauthn", "/signin/webauthn/register/options"),
        headers={"X-CSRFToken": csrf_of(page)},
    )
    assert options.status_code == 403


def test_admins_turn_the_offer_off_per_client_in_console_api_and_cli(app, client):
    from tests.test_cli import stored_client
    from tests.web.test_admin_api import API
    from tests.web.test_admin_clients import FORM
    from tests.web.test_admin_helpers import admin_token, post_form, signed_in_admin

    signed_in_admin(app, client)
    post_form(client, "/admin/clients/new", FORM)  # the box left unticked
    assert stored_client(app, "claims-portal").passkey_offer is False
    post_form(client, "/admin/clients/new", {**FORM, "client_id": "ticked", "passkey_offer": "y"})
    assert stored_client(app, "ticked").passkey_offer is True

    headers = {"Authorization": f"Bearer {admin_token(app, client)}"}
    patched = client.patch(f"{API}/clients/ticked", json={"passkey_offer": False}, headers=headers)
    assert patched.status_code == 200 and patched.get_json()["passkey_offer"] is False
    schema = client.get(f"{API}/openapi.json", headers=headers).get_json()
    assert "passkey_offer" in str(schema)

    runner = app.test_cli_runner()
    result = runner.invoke(args=["client", "update", "ticked", "--passkey-offer"])
    assert result.exit_code == 0, result.output
    assert stored_client(app, "ticked").passkey_offer is True


def trusted_at_the_portal(app, client, totp_secret: str) -> str | None:
    """Ada signs in at "portal" and ticks "remember this device": her browser is trusted there.
    Returns the secret of a second client, "claims", where it is not."""
    _, portal = make_client(app, "portal")
    _, claims = make_client(app, "claims")
    first = SignInFlow(client, RelyingParty(client, client_id="portal", secret=portal))
    first.start()
    first.password()
    first.totp(totp_secret, remember=True)
    return claims


def test_a_browser_trusted_in_an_earlier_sign_in_needs_no_mailbox_for_the_first_key(
    app, client, ada, clock
):
    """The other half of the rule: trust from before this sign-in is the confirmation."""
    _, totp_secret = ada
    claims = trusted_at_the_portal(app, client, totp_secret)

    clock.advance(minutes=5)
    later = SignInFlow(client, RelyingParty(client, client_id="claims", secret=claims))
    later.start(prompt="login")  # a sign-in of its own: the claims app is not trusted here
    later.password()
    later.totp(totp_secret)
    assert later.location.startswith(OFFER)
    answer(client, later, "create")
    page = client.get(later.location)
    assert 'data-webauthn="register"' in page.text
    assert "we check with your email first" not in page.text


def test_a_device_cookie_copied_into_another_browser_does_not_stand_in_for_the_mailbox(
    app, client, ada, clock
):
    """Someone with the password, a code and a copy of a trusted browser's device cookie, in
    another browser, still has to show the mailbox before binding a first key."""
    _, totp_secret = ada
    claims = trusted_at_the_portal(app, client, totp_secret)

    clock.advance(minutes=5)
    thief = app.test_client()
    thief.environ_base["HTTP_USER_AGENT"] = (
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    )
    thief.set_cookie("idp_device", client.get_cookie("idp_device").value, domain="localhost")
    later = SignInFlow(thief, RelyingParty(thief, client_id="claims", secret=claims))
    later.start()
    later.password()
    later.totp(totp_secret)
    assert later.location.startswith(OFFER)
    answer(thief, later, "create")
    page = thief.get(later.location)
    assert "we check with your email first" in page.text
    assert 'data-webauthn="register"' not in page.text
