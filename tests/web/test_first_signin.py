"""A user's first sign-in: made to enroll, gets recovery codes, and the RP learns how (amr/acr)."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from idp.extensions import db
from idp.models.hashing import keyed_hash
from idp.models.recovery_code import RecoveryCode
from idp.models.session import SessionRecord
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


def stored_session_data(app) -> str:
    """Everything the sessions table holds, as text."""
    with app.app_context():
        return json.dumps([row.data for row in db.session.scalars(select(SessionRecord))])


def test_new_recovery_codes_wait_sealed_and_are_shown_once(app, client):
    user = make_user(app)
    _, secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    flow.password()
    rid = flow.location.split("rid=")[1]
    page = client.get(f"/signin/enroll/email?rid={rid}")
    done = client.post(
        f"/signin/enroll/email?rid={rid}",
        data={"csrf_token": csrf_of(page), "code": code_in_mail(app)},
    )
    codes_page = client.get(done.location)
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", codes_page.text)
    assert len(codes) == 10
    with app.app_context():
        stored = {
            c.code_hash
            for c in db.session.scalars(
                select(RecoveryCode).where(
                    RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
                )
            )
        }
    assert {keyed_hash(c.replace("-", ""), app.config["SECRET_KEY"]) for c in codes} == stored

    data = stored_session_data(app)
    leaked = [c for c in codes if c in data or c.replace("-", "") in data]
    assert not leaked, "recovery codes wait in the sessions table in plain text"
    download = client.get(done.location + "&format=txt")
    assert download.mimetype == "text/plain" and download.headers["Cache-Control"] == "no-store"
    assert all(code in download.text for code in codes)

    flow.location = client.post(done.location, data={"csrf_token": csrf_of(codes_page)}).location
    assert "code" in flow.until_rp()
    again = client.get(done.location)
    assert again.status_code == 302 and not any(code in again.text for code in codes)
    assert "recovery_codes" not in stored_session_data(app)


def unused_codes(user_id: int) -> list[RecoveryCode]:
    """The user's recovery codes not yet spent."""
    query = select(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
    )
    return list(db.session.scalars(query))
