"""A user's first sign-in: made to enroll, gets recovery codes, and the RP learns how (amr/acr)."""

from __future__ import annotations

from tests.support import (
    RelyingParty,
    SignInFlow,
    code_in_mail,
    csrf_of,
    key_on_page,
    make_client,
    make_user,
    totp_now,
)


def test_first_sign_in_enrolls_an_app_and_reaches_the_rp_with_mfa(app, client):
    make_user(app)
    _, secret = make_client(app)
    rp = RelyingParty(client, secret=secret)
    flow = SignInFlow(client, rp)

    assert flow.start().status_code == 302
    assert flow.location.startswith("/signin?rid=")
    flow.password()
    flow.follow()  # the policy answers: enroll
    assert flow.location.startswith("/signin/enroll?rid=")
    rid = flow.location.split("rid=")[1]
    page = flow.follow()
    assert "Set up a second way to sign in" in page.text
    enroll_url = f"/signin/enroll/totp?rid={rid}"
    assert enroll_url in page.text.replace("&amp;", "&")
    setup = client.get(enroll_url)
    assert "<svg" in setup.text  # our own QR code
    secret_key = key_on_page(setup)
    done = client.post(
        enroll_url,
        data={
            "csrf_token": csrf_of(setup),
            "name": "My phone",
            "code": totp_now(secret_key, app=app),
        },
    )
    assert done.status_code == 302 and "/signin/recovery-codes" in done.location
    codes_page = client.get(done.location)
    assert codes_page.text.count("<li>") >= 10
    flow.location = client.post(done.location, data={"csrf_token": csrf_of(codes_page)}).location

    params = flow.until_rp()
    assert params["state"] == rp.state and params["iss"] == "http://localhost"
    tokens = rp.redeem(params["code"]).get_json()
    claims = rp.verify_id_token(tokens["id_token"])
    assert claims["amr"] == ["pwd", "otp", "totp", "mfa"]
    assert claims["acr"] == "urn:idp:acr:mfa"


def test_first_sign_in_with_email_codes(app, client):
    make_user(app)
    _, secret = make_client(app)
    rp = RelyingParty(client, secret=secret)
    flow = SignInFlow(client, rp)
    flow.start()
    flow.password()
    flow.follow()
    rid = flow.location.split("rid=")[1]
    page = client.get(f"/signin/enroll/email?rid={rid}")
    assert "We sent a 6-digit code" in page.text
    done = client.post(
        f"/signin/enroll/email?rid={rid}",
        data={
            "csrf_token": csrf_of(page),
            "code": code_in_mail(app),
        },
    )
    codes_page = client.get(done.location)
    flow.location = client.post(done.location, data={"csrf_token": csrf_of(codes_page)}).location
    params = flow.until_rp()
    claims = rp.verify_id_token(rp.redeem(params["code"]).get_json()["id_token"])
    assert claims["amr"] == ["pwd", "otp", "email", "mfa"]
