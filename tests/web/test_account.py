"""The account security page: factors listed, renamed, added and removed under the rules."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from idp.clock import now
from idp.extensions import db
from idp.models.recovery_code import RecoveryCode
from idp.models.session import SessionRecord
from idp.models.totp_credential import TotpCredential
from idp.models.user import User
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    key_on_page,
    latest_mail,
    make_client,
    make_user,
    totp_now,
)


@pytest.fixture
def signed_in(app, client):
    """Ada, signed in with her authenticator app a moment ago."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    SignInFlow(client, RelyingParty(client, secret=client_secret)).authorize_and_exchange(secret)
    return user, secret


def post(client, url, **data):
    page = client.get("/account/security")
    return client.post(url, data={"csrf_token": csrf_of(page), **data})


def test_the_page_lists_factors_and_recovery_codes(app, client, signed_in):
    page = client.get("/account/security")
    assert page.status_code == 200
    assert "Phone" in page.text and "Authenticator app" in page.text
    assert 'id="recovery-left"' in page.text and "running out" in page.text  # none left


def test_rename(app, client, signed_in):
    user, _ = signed_in
    with app.app_context():
        cred_id = TotpCredential.of_user(user.id)[0].id
    post(client, f"/account/factors/totp/{cred_id}/rename", name="Work phone")
    assert "Work phone" in client.get("/account/security").text


def test_the_last_factor_cannot_be_removed(app, client, signed_in):
    user, _ = signed_in
    with app.app_context():
        cred_id = TotpCredential.of_user(user.id)[0].id
    response = post(client, f"/account/factors/totp/{cred_id}/remove")
    assert response.status_code == 302
    page = client.get("/account/security").text
    assert "your only way" in page
    with app.app_context():
        assert len(TotpCredential.of_user(user.id)) == 1


def test_adding_needs_a_recent_second_factor_and_emails_the_user(app, client, signed_in, clock):
    user, secret = signed_in
    clock.advance(minutes=11)
    response = client.get("/account/factors/add/totp")
    assert response.status_code == 302 and response.location.startswith("/account/verify")
    page = client.get(response.location)
    done = client.post(
        response.location,
        data={
            "csrf_token": csrf_of(page),
            "code": totp_now(secret, app=app),
        },
    )
    assert done.status_code == 302
    add = client.get("/account/factors/add/totp")
    assert add.location.startswith("/signin/enroll/totp")
    setup = client.get(add.location)
    new_key = key_on_page(setup)
    saved = client.post(
        add.location,
        data={
            "csrf_token": csrf_of(setup),
            "name": "Tablet",
            "code": totp_now(new_key, app=app),
        },
    )
    assert saved.status_code == 302
    assert "Tablet" in client.get("/account/security").text
    assert "Tablet" in latest_mail(app)

    with app.app_context():
        first = TotpCredential.of_user(user.id)[0].id
    post(client, f"/account/factors/totp/{first}/remove")
    with app.app_context():
        assert [c.name for c in TotpCredential.of_user(user.id)] == ["Tablet"]
    assert "Phone" in latest_mail(app) and "removed" in latest_mail(app).lower()


def test_regenerating_recovery_codes_voids_the_old_set(app, client, signed_in):
    user, _ = signed_in
    response = post(client, "/account/recovery-codes")
    assert response.location == "/signin/recovery-codes"
    page = client.get(response.location)
    assert page.text.count("<li>") == 10
    text = client.get("/signin/recovery-codes?format=txt")
    assert text.mimetype == "text/plain" and "attachment" in text.headers["Content-Disposition"]
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", page.text)
    assert len(codes) == 10 and all(code in text.text for code in codes)
    with app.app_context():
        waiting = json.dumps([row.data for row in db.session.scalars(select(SessionRecord))])
    assert not [code for code in codes if code in waiting], "codes kept in plain text"
    with app.app_context():
        first_set = {
            c.code_hash
            for c in db.session.scalars(
                select(RecoveryCode).where(
                    RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
                )
            )
        }
    post(client, "/account/recovery-codes")
    with app.app_context():
        assert not first_set & {
            c.code_hash
            for c in db.session.scalars(
                select(RecoveryCode).where(
                    RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
                )
            )
        }
        assert RecoveryCode.remaining(user.id) == 10


def test_change_password_needs_the_current_one_and_passes_the_policy(app, client, signed_in):
    user, _ = signed_in
    wrong = post(
        client, "/account/password", current="wrong-password", new="quiet-lantern-harbor-58"
    )
    assert wrong.status_code == 400
    assert "current password is not correct" in wrong.text
    # Said beside the field it is about, which gets the focus.
    assert re.search(
        r'<input id="current"[^>]*aria-describedby="password-error" aria-invalid="true" autofocus',
        wrong.text,
    )
    weak = post(client, "/account/password", current=PASSWORD, new="password1")
    assert weak.status_code == 400
    assert "Please choose a different password" in weak.text
    assert re.search(
        r'<input id="new"[^>]*aria-describedby="password-error new-hint"\s+aria-invalid="true"',
        weak.text,
    )
    empty = post(client, "/account/password", current="", new="")
    assert empty.status_code == 400 and "fill in both" in empty.text
    post(client, "/account/password", current=PASSWORD, new="quiet-lantern-harbor-58")
    assert "Your password was changed" in client.get("/account/security").text
    assert "password" in latest_mail(app).lower()
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored.password_hash.startswith("$argon2id$")
        assert stored.password_changed_at is not None and stored.password_changed_at <= now()


def test_csrf_is_required_on_account_forms(app, client, signed_in):
    user, _ = signed_in
    with app.app_context():
        cred_id = TotpCredential.of_user(user.id)[0].id
    response = client.post(f"/account/factors/totp/{cred_id}/rename", data={"name": "x"})
    assert response.status_code == 400
    with app.app_context():
        assert TotpCredential.of_user(user.id)[0].name == "Phone"


def test_step_up_only_returns_to_paths_on_this_site(app, client, signed_in, clock):
    _, secret = signed_in
    for target in ("/\\evil.example/x", "//evil.example/x", "https://evil.example/"):
        clock.advance(seconds=30)
        url = "/account/verify?next=" + target
        page = client.get(url)
        done = client.post(
            url, data={"csrf_token": csrf_of(page), "code": totp_now(secret, app=app)}
        )
        assert done.status_code == 302 and done.location == "/account/security", target
    clock.advance(seconds=30)
    url = "/account/verify?next=/account/factors/add/totp"
    page = client.get(url)
    done = client.post(url, data={"csrf_token": csrf_of(page), "code": totp_now(secret, app=app)})
    assert done.location == "/account/factors/add/totp"


def unused_codes(user_id: int) -> list[RecoveryCode]:
    """The user's recovery codes not yet spent."""
    query = select(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
    )
    return list(db.session.scalars(query))


def test_a_removal_that_needs_a_step_up_comes_back_to_the_account_page(
    app, client, signed_in, clock
):
    user, secret = signed_in
    enroll_totp(app, user.id, name="Tablet")
    with app.app_context():
        tablet = next(c for c in TotpCredential.of_user(user.id) if c.name == "Tablet").id
    clock.advance(minutes=11)
    removal = post(client, f"/account/factors/totp/{tablet}/remove")
    assert removal.location.startswith("/account/verify")
    clock.advance(seconds=30)
    page = client.get(removal.location)
    done = client.post(
        removal.location, data={"csrf_token": csrf_of(page), "code": totp_now(secret, app=app)}
    )
    # A redirect cannot replay the form's POST (it would be a 405): back to the page instead.
    assert done.location == "/account/security?confirmed=1"
    back = client.get(done.location)
    assert back.status_code == 200 and "press the button again" in back.text
    assert post(client, f"/account/factors/totp/{tablet}/remove").location == "/account/security"
    with app.app_context():
        assert [c.name for c in TotpCredential.of_user(user.id)] == ["Phone"]
