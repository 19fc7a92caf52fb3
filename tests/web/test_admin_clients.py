"""The console's client pages: register, validate, edit, rotate, disable, delete, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idp.clock import now
from idp.extensions import db
from idp.models.client import Client
from idp.models.hashing import sha256_hex
from idp.models.token import Token
from idp.models.trusted_device import TrustedDevice
from tests.support import RelyingParty, SignInFlow, make_client, make_user
from tests.web.test_admin_helpers import (
    client_credentials,
    events,
    post_form,
    signed_in_admin,
)

FORM = {
    "client_id": "claims-portal",
    "name": "Claims Portal",
    "logo_uri": "",  # a URL is fetched at save time: tests/web/test_branding.py
    "redirect_uris": "https://claims.example/callback\nhttp://localhost:8080/cb",
    "post_logout_redirect_uris": "https://claims.example/bye",
    "token_endpoint_auth_method": "client_secret_basic",
    "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
    "scopes": ["openid", "profile", "email", "roles"],
    "mfa_policy": "any",
    "remember_device": "y",
    "remember_days": "14",
    "passkey_signin": "y",
    "id_token_signed_response_alg": "ES256",
}


def stored(app, client_id="claims-portal") -> Client | None:
    with app.app_context():
        found = db.session.scalar(db.select(Client).where(Client.client_id == client_id))
        if found is not None:
            db.session.expunge(found)
        return found


def secret_on(page) -> str:
    import re

    match = re.search(r'id="client-secret">([^<]+)<', page.text)
    assert match, "no secret on the page"
    return match.group(1)


@pytest.fixture
def admin(app, client):
    return signed_in_admin(app, client)


def test_register_a_client_secret_shown_once_and_only_its_hash_stored(app, client, admin):
    page = post_form(client, "/admin/clients/new", FORM)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    secret = secret_on(page)
    saved = stored(app)
    assert saved.name == "Claims Portal" and saved.secret_hash == sha256_hex(secret)
    assert saved.redirect_uris == ["https://claims.example/callback", "http://localhost:8080/cb"]
    assert saved.scopes == ["openid", "profile", "email", "roles"]
    assert saved.remember_days == 14 and saved.id_token_signed_response_alg == "ES256"
    assert not saved.first_party and saved.logo_uri == ""
    # The secret works, and is never shown again.
    assert client_credentials(client, "claims-portal", secret, "profile")
    assert secret not in client.get("/admin/clients/claims-portal").text
    created = events(app, "client.created")[-1]
    assert created.client_id == "claims-portal"
    assert created.detail == {"via": "console", "admin_id": admin.id}


def test_the_sign_in_page_shows_the_registered_name(app, client, admin):
    post_form(client, "/admin/clients/new", FORM)
    browser = app.test_client()
    rp = RelyingParty(
        browser, client_id="claims-portal", redirect_uri="https://claims.example/callback"
    )
    flow = SignInFlow(browser, rp)
    flow.start()
    page = flow.follow()
    assert "Claims Portal" in page.text


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://claims.example/callback", "must use https"),
        ("https://claims.example/callback#frag", "fragment"),
        ("claims://callback", "must"),
        ("https://user:pw@claims.example/cb", "user name"),
        ("/relative/callback", "absolute URL"),
        ("https://claims.example:99999/cb", "not a valid URL"),
    ],
)
def test_redirect_uris_are_validated(app, client, admin, uri, reason):
    response = post_form(client, "/admin/clients/new", {**FORM, "redirect_uris": uri})
    assert response.status_code == 422
    assert reason in response.text
    assert stored(app) is None


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://localhost/cb"]
)
def test_http_is_allowed_on_loopback(app, client, admin, uri):
    assert (
        post_form(client, "/admin/clients/new", {**FORM, "redirect_uris": uri}).status_code == 200
    )
    assert stored(app).redirect_uris == [uri]


def test_contradictory_settings_are_refused_with_every_reason(app, client, admin):
    form = {
        **FORM,
        "token_endpoint_auth_method": "none",
        "scopes": ["openid", "idp:admin"],
        "remember_days": "400",
    }
    response = post_form(client, "/admin/clients/new", form)
    assert response.status_code == 422
    assert "Remember devices for (days) must be between 1 and 30" in response.text
    form["remember_days"] = "7"
    response = post_form(client, "/admin/clients/new", form)
    assert "Grant types cannot include client_credentials for a public client" in response.text
    assert (
        "Allowed scopes can include idp:admin only for confidential client_credentials clients"
        in response.text
    )
    assert stored(app) is None


def test_a_public_client_gets_no_secret(app, client, admin):
    form = {**FORM, "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"]}
    response = post_form(client, "/admin/clients/new", form)
    assert response.status_code == 302
    assert stored(app).secret_hash is None
    assert "a public client: no secret" in client.get(response.location).text


def test_edit_a_client_and_the_change_is_audited(app, client, admin):
    post_form(client, "/admin/clients/new", FORM)
    page = client.get("/admin/clients/claims-portal")
    assert 'value="Claims Portal"' in page.text
    response = post_form(client, "/admin/clients/claims-portal", {**FORM, "name": "Claims"})
    assert response.status_code == 302
    assert stored(app).name == "Claims"
    assert events(app, "client.updated")[-1].detail["changed"] == ["name"]
    bad = post_form(
        client, "/admin/clients/claims-portal", {**FORM, "logo_uri": "http://x.example/l.png"}
    )
    assert bad.status_code == 422 and "Logo URL must be an https URL" in bad.text
    assert stored(app).logo_uri == FORM["logo_uri"]


def _trust(app, client_id, *, days=14):
    user = make_user(app, f"{client_id}-user@example.com")
    at = now()
    with app.app_context():
        db.session.add(
            TrustedDevice(
                user_id=user.id,
                client_id=client_id,
                device_hash=sha256_hex(client_id),
                created_at=at,
                expires_at=at + timedelta(days=days),
                last_verified_at=at,
            )
        )
        db.session.commit()


def _live_trust(app, client_id):
    with app.app_context():
        return TrustedDevice.of_user(
            db.session.scalar(
                db.select(TrustedDevice.user_id).where(TrustedDevice.client_id == client_id)
            ),
            now(),
        )


def test_raising_the_mfa_policy_or_refusing_remembered_devices_ends_trust(app, client, admin):
    for client_id in ("a-rp", "b-rp", "c-rp"):
        post_form(client, "/admin/clients/new", {**FORM, "client_id": client_id})
        _trust(app, client_id)
    post_form(client, "/admin/clients/a-rp", {**FORM, "mfa_policy": "phishing_resistant"})
    without_remember = {k: v for k, v in FORM.items() if k != "remember_device"}
    post_form(client, "/admin/clients/b-rp", without_remember)
    post_form(client, "/admin/clients/c-rp", {**FORM, "remember_days": "3"})
    assert _live_trust(app, "a-rp") == [] and _live_trust(app, "b-rp") == []
    (capped,) = _live_trust(app, "c-rp")
    assert capped.expires_at == capped.created_at + timedelta(days=3)
    revoked = [e.detail["trusted_devices_revoked"] for e in events(app, "client.updated")]
    assert revoked == [1, 1, 0]


def test_rotate_secret_old_stops_new_works(app, client, admin):
    first = secret_on(post_form(client, "/admin/clients/new", FORM))
    page = post_form(client, "/admin/clients/claims-portal/rotate-secret", {"confirmed": "yes"})
    second = secret_on(page)
    assert second != first and "previous secret no longer works" in page.text
    assert stored(app).secret_hash == sha256_hex(second)
    basic = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        auth=("claims-portal", first),
    )
    assert basic.status_code == 401
    assert client_credentials(client, "claims-portal", second, "profile")
    assert events(app, "client.secret_rotated")


def test_disable_revokes_tokens_and_stops_the_client_enable_restores(app, client, admin):
    secret = secret_on(post_form(client, "/admin/clients/new", FORM))
    token = client_credentials(client, "claims-portal", secret, "profile")
    assert post_form(client, "/admin/clients/claims-portal/disable").status_code == 302
    assert stored(app).disabled
    with app.app_context():
        assert Token.by_access_token(token).is_revoked()
    refused = client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=("claims-portal", secret)
    )
    assert refused.status_code == 401
    assert "disabled" in client.get("/admin/clients").text
    post_form(client, "/admin/clients/claims-portal/enable")
    assert not stored(app).disabled
    assert client_credentials(client, "claims-portal", secret, "profile")
    assert [e.event for e in events(app) if e.event.startswith("client.")] == [
        "client.created",
        "client.disabled",
        "client.enabled",
    ]


def test_delete_needs_the_client_id_typed_and_revokes_tokens(app, client, admin):
    secret = secret_on(post_form(client, "/admin/clients/new", FORM))
    token = client_credentials(client, "claims-portal", secret, "profile")
    asked = post_form(client, "/admin/clients/claims-portal/delete")
    assert asked.status_code == 200 and "This cannot be undone" in asked.text
    assert stored(app) is not None
    kept = post_form(client, "/admin/clients/claims-portal/delete", {"confirm": "nope"})
    assert kept.status_code == 422 and stored(app) is not None
    assert 'aria-invalid="true"' in kept.text and "Type the client_id exactly" in kept.text
    gone = post_form(client, "/admin/clients/claims-portal/delete", {"confirm": "claims-portal"})
    assert gone.status_code == 302 and gone.location == "/admin/clients"
    assert stored(app) is None
    with app.app_context():
        assert Token.by_access_token(token).is_revoked()
    assert client.get("/admin/clients/claims-portal").status_code == 404
    assert events(app, "client.deleted")[-1].detail["tokens_revoked"] == 1


def test_list_and_search_clients(app, client, admin):
    make_client(app, "alpha")
    make_client(app, "beta")
    page = client.get("/admin/clients?q=alp")
    assert "ALPHA Portal" in page.text and "BETA Portal" not in page.text
    assert "BETA Portal" in client.get("/admin/clients").text


def test_clients_registered_elsewhere_can_be_opened_and_edited(app, client, admin):
    make_client(app, "rp")  # shorter than the console's own client_id rule allows
    page = client.get("/admin/clients/rp")
    assert page.status_code == 200 and "RP Portal" in page.text


def test_the_access_token_format_is_set_in_the_console(app, client, admin):
    """RFC 9068 JWT access tokens per client; a form without the field keeps it (opaque)."""
    secret = secret_on(post_form(client, "/admin/clients/new", FORM))
    assert stored(app).access_token_format == "opaque"
    assert client_credentials(client, "claims-portal", secret, "profile").count(".") == 0
    post_form(client, "/admin/clients/claims-portal", {**FORM, "access_token_format": "jwt"})
    assert stored(app).access_token_format == "jwt"
    assert 'value="jwt" selected' in client.get("/admin/clients/claims-portal").text
    assert client_credentials(client, "claims-portal", secret, "profile").count(".") == 2
    post_form(client, "/admin/clients/claims-portal", FORM)
    assert stored(app).access_token_format == "jwt"
