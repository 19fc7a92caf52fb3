"""The admin JSON API through HTTP: every action, problem details, and the audit trail."""

from __future__ import annotations

import pytest

from idp.models.hashing import sha256_hex
from tests.support import enroll_totp, latest_mail, make_user
from tests.web.test_admin_helpers import admin_token, client_credentials, events, user_row

API = "/admin/api/v1"
NEW_CLIENT = {
    "client_id": "billing",
    "name": "Billing",
    "redirect_uris": ["https://billing.example/cb"],
    "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
    "scopes": ["openid", "profile", "roles"],
    "mfa_policy": "phishing_resistant",
    "remember_days": 7,
}


class Api:
    """The admin API with a bearer token."""

    def __init__(self, browser, token: str) -> None:
        self.browser, self.headers = browser, {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, path: str, json=None, **kwargs):
        return self.browser.open(
            API + path, method=method, headers=self.headers, json=json, **kwargs
        )


@pytest.fixture
def api(app, client):
    return Api(client, admin_token(app, client))


def assert_problem(response, status: int, code: str):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:idp:problem:{code}" and body["title"] and body["detail"]
    return body


def test_client_lifecycle(app, client, api):
    created = api("POST", "/clients", NEW_CLIENT)
    assert created.status_code == 201
    assert created.headers["Location"].endswith("/admin/api/v1/clients/billing")
    assert created.headers["Cache-Control"] == "no-store"
    body = created.get_json()
    secret = body["client_secret"]
    assert body["client_type"] == "confidential" and body["mfa_policy"] == "phishing_resistant"
    assert "secret_hash" not in body
    assert client_credentials(client, "billing", secret, "profile")
    fetched = api("GET", "/clients/billing").get_json()
    assert "client_secret" not in fetched and fetched["remember_days"] == 7
    assert [c["client_id"] for c in api("GET", "/clients").get_json()["clients"]] == [
        "billing",
        "ops-bot",
    ]
    assert api("GET", "/clients?q=bill").get_json()["clients"][0]["name"] == "Billing"

    patched = api("PATCH", "/clients/billing", {"name": "Billing v2", "first_party": True})
    assert patched.get_json()["name"] == "Billing v2" and patched.get_json()["first_party"]
    rotated = api("POST", "/clients/billing/rotate-secret").get_json()["client_secret"]
    assert rotated != secret
    assert (
        client.post(
            "/token", data={"grant_type": "client_credentials"}, auth=("billing", secret)
        ).status_code
        == 401
    )
    assert api("POST", "/clients/billing/disable").get_json()["disabled"] is True
    assert api("POST", "/clients/billing/enable").get_json()["disabled"] is False
    # Made public: the secret goes; made confidential again: a new one is returned once.
    public = api(
        "PATCH",
        "/clients/billing",
        {"token_endpoint_auth_method": "none", "grant_types": ["authorization_code"]},
    )
    assert public.get_json()["client_type"] == "public" and "client_secret" not in public.get_json()
    again = api("PATCH", "/clients/billing", {"token_endpoint_auth_method": "client_secret_post"})
    assert again.get_json()["client_secret"]
    assert api("DELETE", "/clients/billing").status_code == 204
    assert_problem(api("GET", "/clients/billing"), 404, "not_found")
    trail = [(e.event, e.detail.get("api_client")) for e in events(app) if e.client_id == "billing"]
    assert trail == [
        ("client.created", "ops-bot"),
        ("client.updated", "ops-bot"),
        ("client.secret_rotated", "ops-bot"),
        ("client.disabled", "ops-bot"),
        ("client.enabled", "ops-bot"),
        ("client.updated", "ops-bot"),
        ("client.updated", "ops-bot"),
        ("client.deleted", "ops-bot"),
    ]


def test_client_errors_are_problem_details(app, client, api):
    body = assert_problem(
        api(
            "POST",
            "/clients",
            {**NEW_CLIENT, "redirect_uris": ["http://evil.example/cb"], "colour": "red"},
        ),
        422,
        "invalid",
    )
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"redirect_uris", "colour"}
    api("POST", "/clients", NEW_CLIENT)
    assert_problem(api("POST", "/clients", NEW_CLIENT), 409, "conflict")
    assert_problem(api("POST", "/clients", ["not", "an", "object"]), 422, "invalid")
    assert_problem(
        client.post(f"{API}/clients", data="name=x", headers=api.headers), 415, "http_415"
    )
    assert_problem(
        client.post(
            f"{API}/clients", data="{oops", headers=api.headers, content_type="application/json"
        ),
        400,
        "http_400",
    )
    wrong_method = api("PUT", "/clients")
    assert_problem(wrong_method, 405, "http_405")
    assert "POST" in wrong_method.headers["Allow"]
    assert_problem(api("GET", "/nothing-here"), 404, "http_404")
    assert_problem(api("POST", "/clients/ops-bot/../x/rotate-secret"), 404, "http_404")
    assert_problem(
        api("PATCH", "/clients/billing", {"token_endpoint_auth_method": "none"}), 422, "invalid"
    )


def test_user_lifecycle(app, client, api):
    make_user(app, "root@example.com", is_admin=True)
    created = api(
        "POST", "/users", {"email": "Cara@Example.com", "name": "Cara", "roles": ["agent"]}
    )
    assert created.status_code == 201
    cara = created.get_json()
    assert cara["email"] == "cara@example.com" and cara["status"] == "pending"
    assert cara["roles"] == ["agent"] and cara["factors"] == []
    assert "/activate/" in latest_mail(app, "cara@example.com")
    assert created.headers["Location"].endswith(f"/users/{cara['id']}")
    uid = cara["id"]
    listed = api("GET", "/users?q=CARA").get_json()
    assert listed["total"] == 1 and listed["users"][0]["id"] == uid
    assert api("GET", "/users?limit=1&offset=5").get_json()["users"] == []
    assert_problem(api("GET", "/users?limit=abc"), 422, "invalid")

    assert api("PATCH", f"/users/{uid}", {"roles": ["agent", "customer"]}).get_json()["roles"] == [
        "agent",
        "customer",
    ]
    assert api("POST", f"/users/{uid}/invite").status_code == 200
    assert api("POST", f"/users/{uid}/disable").get_json()["status"] == "disabled"
    assert api("POST", f"/users/{uid}/enable").get_json()["status"] == "pending"
    assert api("POST", f"/users/{uid}/grant-admin").get_json()["is_admin"] is True
    assert api("POST", f"/users/{uid}/revoke-admin").get_json()["is_admin"] is False
    assert api("POST", f"/users/{uid}/unlock").status_code == 200
    assert api("DELETE", f"/users/{uid}").status_code == 204
    assert_problem(api("GET", f"/users/{uid}"), 404, "not_found")
    assert_problem(api("POST", "/users", {"email": "x"}), 422, "invalid")
    assert [e.event for e in events(app) if e.event.startswith("user.")] == [
        "user.created",
        "user.invited",
        "user.updated",
        "user.invited",
        "user.disabled",
        "user.enabled",
        "user.admin_granted",
        "user.admin_revoked",
        "user.unlocked",
        "user.deleted",
    ]


def test_support_a_user_who_lost_their_phone_and_read_the_audit_log(app, client, api):
    user = make_user(app, "dora@example.com")
    enroll_totp(app, user.id)
    detail = api("GET", f"/users/{user.subject}").get_json()
    assert [f["kind"] for f in detail["factors"]] == ["totp"]
    revoked = api("POST", f"/users/{user.subject}/revoke-trusted-devices")
    assert revoked.status_code == 200 and revoked.get_json()["trusted_devices"] == []
    reset = api("POST", f"/users/{user.subject}/reset-mfa").get_json()
    assert reset["factors"] == [] and reset["status"] == "pending"
    assert "reset the second step" in latest_mail(app, "dora@example.com")
    log = api("GET", "/audit-events?user=dora@example.com").get_json()
    assert [e["event"] for e in log["events"]] == ["user.mfa_reset", "trusted_device.revoked"]
    event = log["events"][0]
    assert event["user_sub"] == user.subject and event["detail"]["api_client"] == "ops-bot"
    assert api("GET", "/audit-events?event=user.*&limit=1").get_json()["next_before"] is not None
    assert_problem(api("GET", "/audit-events?user=nobody@example.com"), 422, "invalid")
    assert_problem(api("GET", "/audit-events?since=yesterday"), 422, "invalid")


def test_the_last_admin_cannot_be_disabled_or_demoted_through_the_api(app, client, api):
    root = make_user(app, "root@example.com", is_admin=True)
    assert_problem(api("POST", f"/users/{root.subject}/disable"), 409, "refused")
    assert_problem(api("POST", f"/users/{root.subject}/revoke-admin"), 409, "refused")
    assert_problem(api("DELETE", f"/users/{root.subject}"), 409, "refused")
    assert user_row(app, root.email).is_admin


def test_the_openapi_document_is_served_to_admin_tokens(app, client, api):
    document = api("GET", "/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    assert "/users/{user_id}/reset-mfa" in document["paths"]
    assert client.get(f"{API}/openapi.json").status_code == 401


def test_a_client_secret_is_stored_only_as_its_hash(app, client, api):
    secret = api("POST", "/clients", NEW_CLIENT).get_json()["client_secret"]
    from idp.extensions import db
    from idp.models.client import Client

    with app.app_context():
        stored = db.session.scalar(db.select(Client).where(Client.client_id == "billing"))
        assert stored.secret_hash == sha256_hex(secret)


def test_nul_characters_are_a_bad_request_not_a_server_error(app, client, api):
    response = api("GET", "/audit-events?user=%00")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    page = client.get("/authorize?client_id=%00&response_type=code")
    assert page.status_code == 400


def test_the_access_token_format_is_a_client_field(app, client, api):
    """RFC 9068 per client: opaque by default, jwt on request, anything else refused."""
    created = api("POST", "/clients", NEW_CLIENT).get_json()
    assert created["access_token_format"] == "opaque"
    patched = api("PATCH", "/clients/billing", {"access_token_format": "jwt"})
    assert patched.get_json()["access_token_format"] == "jwt"
    token = client_credentials(client, "billing", created["client_secret"], "profile")
    assert token.count(".") == 2
    assert_problem(api("PATCH", "/clients/billing", {"access_token_format": "jws"}), 422, "invalid")
