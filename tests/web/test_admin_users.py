"""The console's user pages: invite and activate, disable, unlock, reset MFA, roles, admins."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from idp.authn import recovery_code
from idp.clock import now
from idp.extensions import db
from idp.models.hashing import sha256_hex
from idp.models.invitation import Invitation
from idp.models.recovery_code import RecoveryCode
from idp.models.session import SessionRecord
from idp.models.token import Token
from idp.models.totp_credential import TotpCredential
from idp.models.trusted_device import TrustedDevice
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    latest_mail,
    make_client,
    make_user,
)
from tests.web.test_admin_helpers import events, post_form, sign_in, signed_in_admin, user_row

NEW_PASSWORD = "lantern-quarry-mosaic-71"


@pytest.fixture
def admin(app, client):
    return signed_in_admin(app, client)


def invitation_link(app, email: str) -> str:
    match = re.search(r"http://localhost(/activate/[\w-]+)", latest_mail(app, email))
    assert match, "no activation link in the mail"
    return match.group(1)


def where_sign_in_leads(app, email: str, password: str) -> str:
    """Sign in with a password in a fresh browser; the page the policy sends them to."""
    browser = app.test_client()
    page = browser.get("/signin")
    response = browser.post(
        "/signin", data={"csrf_token": csrf_of(page), "email": email, "password": password}
    )
    assert response.status_code == 302, response.text
    return browser.get("/account/security").location


def test_search_users_by_email_or_name(app, client, admin):
    make_user(app, "grace@example.com", name="Grace Hopper")
    make_user(app, "alan@example.com", name="Alan Turing")
    page = client.get("/admin/users?q=hopper")
    assert "grace@example.com" in page.text and "alan@example.com" not in page.text
    page = client.get("/admin/users?q=ALAN@")
    assert "alan@example.com" in page.text and "grace@example.com" not in page.text
    assert "3 users" in client.get("/admin/users").text


def test_create_with_invitation_then_activate_sets_the_password_and_proves_the_email(
    app, client, admin
):
    response = post_form(
        client,
        "/admin/users/new",
        {
            "email": "New.Agent@Example.com",
            "name": "New Agent",
            "roles": "agent",
            "send_invitation": "y",
        },
    )
    assert response.status_code == 302
    user = user_row(app, "new.agent@example.com")
    assert user.password_hash is None and user.activated_at is None and user.roles == ["agent"]
    link = invitation_link(app, "new.agent@example.com")
    token = link.rsplit("/", 1)[1]
    with app.app_context():
        stored = db.session.scalar(db.select(Invitation).where(Invitation.user_id == user.id))
        assert stored.token_hash == sha256_hex(token) and token not in stored.token_hash

    visitor = app.test_client()
    page = visitor.get(link)
    assert page.status_code == 200 and "new.agent@example.com" in page.text
    weak = visitor.post(
        link, data={"csrf_token": csrf_of(page), "password": "password1", "confirm": "password1"}
    )
    assert weak.status_code == 400 and "different password" in weak.text
    mismatch = visitor.post(
        link, data={"csrf_token": csrf_of(page), "password": NEW_PASSWORD, "confirm": "other"}
    )
    assert mismatch.status_code == 400
    done = visitor.post(
        link, data={"csrf_token": csrf_of(page), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done.location == "/signin"
    user = user_row(app, "new.agent@example.com")
    assert user.activated_at is not None and user.email_verified
    # Single use.
    assert visitor.get(link).status_code == 400
    # Their email is proven: the first sign-in goes straight to enrollment.
    assert where_sign_in_leads(app, user.email, NEW_PASSWORD).startswith("/signin/enroll")
    names = [e.event for e in events(app) if e.user_id == user.id]
    assert names[:3] == ["user.created", "user.invited", "user.activated"]


def test_an_invitation_expires_and_a_new_one_replaces_the_old(app, client, clock, admin):
    post_form(client, "/admin/users/new", {"email": "late@example.com", "send_invitation": "y"})
    first = invitation_link(app, "late@example.com")
    user = user_row(app, "late@example.com")
    clock.advance(seconds=2)
    post_form(client, f"/admin/users/{user.subject}/invite")
    second = invitation_link(app, "late@example.com")
    assert first != second
    assert client.get(first).status_code == 400
    clock.advance(days=7, seconds=1)
    assert app.test_client().get(second).status_code == 400
    assert "expired" in app.test_client().get(second).text


def test_without_invitation_the_user_has_no_password_and_no_mail(app, client, admin):
    post_form(client, "/admin/users/new", {"email": "quiet@example.com"})
    assert user_row(app, "quiet@example.com").password_hash is None
    with pytest.raises(AssertionError):
        latest_mail(app, "quiet@example.com")


def test_create_refuses_a_bad_or_taken_email(app, client, admin):
    bad = post_form(client, "/admin/users/new", {"email": "not-an-email"})
    assert bad.status_code == 422 and "not an email address" in bad.text
    taken = post_form(client, "/admin/users/new", {"email": admin.email.upper()})
    assert taken.status_code == 409 and "already exists" in taken.text


def _signed_in_user_with_everything(app):
    """A user signed in in their own browser, with a token, a trusted device, codes."""
    user = make_user(app, "lost@example.com", name="Lost Phone")
    secret = enroll_totp(app, user.id)
    browser = app.test_client()
    sign_in(browser, user.email, secret)
    make_client(app, "rp", scopes=["openid", "profile", "email", "roles"])
    at = now()
    with app.app_context():
        recovery_code.issue(user.id, now=at, app_secret=app.config["SECRET_KEY"])
        found = db.session.get(type(user), user.id)
        found.email_factor_at = at
        db.session.add(
            TrustedDevice(
                user_id=user.id,
                client_id="rp",
                device_hash="d" * 64,
                created_at=at,
                expires_at=at + timedelta(days=30),
                last_verified_at=at,
            )
        )
        db.session.add(
            Token(
                client_id="rp",
                user_id=user.id,
                family="f1",
                access_token_hash="a" * 64,
                issued_at=at,
                expires_in=3600,
            )
        )
        db.session.commit()
    return user, browser


def _state(app, user_id):
    with app.app_context():
        return {
            "sessions": db.session.scalar(
                db.select(db.func.count()).where(SessionRecord.user_id == user_id)
            ),
            "live_tokens": db.session.scalar(
                db.select(db.func.count()).where(
                    Token.user_id == user_id, Token.access_revoked_at.is_(None)
                )
            ),
            "trust": len(TrustedDevice.of_user(user_id, now())),
            "totp": len(TotpCredential.of_user(user_id)),
            "codes": RecoveryCode.remaining(user_id),
        }


def test_disable_ends_sessions_tokens_and_trust_enable_lets_them_back(app, client, admin):
    user, browser = _signed_in_user_with_everything(app)
    assert browser.get("/account/security").status_code == 200
    assert _state(app, user.id)["sessions"] == 1
    response = post_form(client, f"/admin/users/{user.subject}/disable")
    assert response.status_code == 302
    assert _state(app, user.id) | {"totp": 0, "codes": 0} == {
        "sessions": 0,
        "live_tokens": 0,
        "trust": 0,
        "totp": 0,
        "codes": 0,
    }
    assert browser.get("/account/security").status_code == 302
    assert "disabled" in client.get(f"/admin/users/{user.subject}").text
    page = app.test_client()
    form = page.get("/signin")
    refused = page.post(
        "/signin", data={"csrf_token": csrf_of(form), "email": user.email, "password": PASSWORD}
    )
    assert refused.status_code == 401
    post_form(client, f"/admin/users/{user.subject}/enable")
    assert user_row(app, user.email).disabled_at is None
    detail = events(app, "user.disabled")[-1].detail
    assert detail["sessions_ended"] == 1 and detail["tokens_revoked"] == 1
    assert detail["trusted_devices_revoked"] == 1 and detail["admin_id"] == admin.id


def test_unlock_clears_both_lockouts(app, client, admin):
    later = now() + timedelta(minutes=10)
    user = make_user(
        app,
        "locked@example.com",
        failed_logins=3,
        locked_until=later,
        mfa_failures=4,
        mfa_locked_until=later,
    )
    assert "locked" in client.get(f"/admin/users/{user.subject}").text
    post_form(client, f"/admin/users/{user.subject}/unlock")
    found = user_row(app, user.email)
    assert (
        found.failed_logins,
        found.locked_until,
        found.mfa_failures,
        found.mfa_locked_until,
    ) == (
        0,
        None,
        0,
        None,
    )
    assert events(app, "user.unlocked")


def test_reset_mfa_removes_everything_emails_and_forces_email_proof_then_enrollment(
    app, client, admin
):
    user, browser = _signed_in_user_with_everything(app)
    page = client.get(f"/admin/users/{user.subject}")
    assert "Phone" in page.text and "Codes by email" in page.text
    assert "10 unused recovery codes" in page.text and "rp" in page.text
    post_form(client, f"/admin/users/{user.subject}/reset-mfa", {"confirmed": "yes"})
    assert _state(app, user.id) == {
        "sessions": 0,
        "live_tokens": 0,
        "trust": 0,
        "totp": 0,
        "codes": 0,
    }
    found = user_row(app, user.email)
    assert found.email_factor_at is None and found.activated_at is None
    assert "an administrator reset the second step" in latest_mail(app, user.email)
    assert browser.get("/account/security").status_code == 302
    # DESIGN rule 2: prove the email again, then enroll; the password alone binds nothing.
    assert where_sign_in_leads(app, user.email, PASSWORD).startswith("/signin/prove-email")
    assert events(app, "user.mfa_reset")[-1].detail["factors_removed"] == 1
    assert "None: they will set one up" in client.get(f"/admin/users/{user.subject}").text


def test_user_page_lists_recent_events(app, client, admin):
    user, _ = _signed_in_user_with_everything(app)
    page = client.get(f"/admin/users/{user.subject}")
    assert "password.verified" in page.text and "second_factor" in page.text


def test_roles_are_edited_and_reach_the_roles_claim(app, client, admin):
    user, _ = _signed_in_user_with_everything(app)
    bad = post_form(
        client, f"/admin/users/{user.subject}", {"name": "Lost Phone", "roles": "Agent! x"}
    )
    assert bad.status_code == 422 and user_row(app, user.email).roles == []
    post_form(
        client,
        f"/admin/users/{user.subject}",
        {"name": "Lost Phone", "roles": "agent customer agent"},
    )
    assert user_row(app, user.email).roles == ["agent", "customer"]
    assert events(app, "user.updated")[-1].detail["changed"] == ["roles"]

    with app.app_context():
        from idp.models.client import Client

        rp = db.session.scalar(db.select(Client).where(Client.client_id == "rp"))
        rp_secret = rp.set_secret()
        db.session.commit()
    browser = app.test_client()
    rp = RelyingParty(browser, secret=rp_secret)
    flow = SignInFlow(browser, rp, email=user.email)
    secret = enroll_totp(app, user.id, name="Spare")
    exchange = flow.authorize_and_exchange(secret, scope="openid roles")
    assert exchange.claims["roles"] == ["agent", "customer"]
    info = browser.get(
        "/userinfo", headers={"Authorization": f"Bearer {exchange.tokens['access_token']}"}
    )
    assert info.get_json()["roles"] == ["agent", "customer"]
    # Without the scope, no roles.
    flow2 = SignInFlow(browser, RelyingParty(browser, secret=rp_secret), email=user.email)
    assert "roles" not in flow2.authorize_and_exchange(secret, scope="openid").claims


def test_admin_role_granted_and_revoked_never_your_own_or_the_last(app, client, admin):
    other = make_user(app, "second@example.com")
    post_form(client, f"/admin/users/{other.subject}/grant-admin")
    assert user_row(app, other.email).is_admin
    post_form(client, f"/admin/users/{other.subject}/revoke-admin")
    assert not user_row(app, other.email).is_admin
    own = post_form(client, f"/admin/users/{admin.subject}/revoke-admin")
    assert own.status_code == 409 and "your own account" in own.text
    assert post_form(client, f"/admin/users/{admin.subject}/disable").status_code == 409
    assert (
        post_form(
            client, f"/admin/users/{admin.subject}/reset-mfa", {"confirmed": "yes"}
        ).status_code
        == 409
    )
    assert user_row(app, admin.email).is_admin
    assert [e.event for e in events(app) if e.event.startswith("user.admin")] == [
        "user.admin_granted",
        "user.admin_revoked",
    ]


def test_delete_a_user_after_typing_the_email(app, client, admin):
    user, _ = _signed_in_user_with_everything(app)
    post_form(client, f"/admin/users/{user.subject}/delete", {"confirm": "wrong"})
    assert user_row(app, user.email) is not None
    response = post_form(client, f"/admin/users/{user.subject}/delete", {"confirm": user.email})
    assert response.location == "/admin/users"
    assert user_row(app, user.email) is None
    assert events(app, "user.deleted")[-1].detail["email"] == user.email
    # The audit trail of the deleted user stays.
    assert any(e.event == "password.verified" and e.user_id == user.id for e in events(app))


def test_an_admin_revokes_one_trusted_device_or_all(app, client, admin):
    user, _ = _signed_in_user_with_everything(app)
    with app.app_context():
        (device,) = TrustedDevice.of_user(user.id, now())
        device_id = device.id
    missing = post_form(
        client,
        f"/admin/users/{user.subject}/trusted-devices/{device_id + 99}/revoke",
        {"confirmed": "yes"},
    )
    assert missing.status_code == 404
    post_form(
        client,
        f"/admin/users/{user.subject}/trusted-devices/{device_id}/revoke",
        {"confirmed": "yes"},
    )
    assert _state(app, user.id)["trust"] == 0
    post_form(client, f"/admin/users/{user.subject}/trusted-devices/revoke", {"confirmed": "yes"})
    revoked = events(app, "trusted_device.revoked")
    assert [(e.detail["device_id"], e.detail["count"]) for e in revoked] == [
        (device_id, 1),
        (None, 0),
    ]


def test_the_activation_form_needs_its_csrf_token(app, client, admin):
    post_form(client, "/admin/users/new", {"email": "csrf@example.com", "send_invitation": "y"})
    link = invitation_link(app, "csrf@example.com")
    refused = app.test_client().post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert refused.status_code == 400
    assert user_row(app, "csrf@example.com").activated_at is None
    assert app.test_client().get(link).status_code == 200  # the link still works
