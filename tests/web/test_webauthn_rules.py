"""WebAuthn rules that need no browser: policy answers, removal rules, malformed answers."""

from __future__ import annotations

import base64
import json

from idp.clock import now
from idp.extensions import db
from idp.models.webauthn_credential import WebAuthnCredential
from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
    query,
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def add_key(app, user_id: int, *, credential_id: str = "a2V5LW9uZQ", name: str = "YubiKey"):
    with app.app_context():
        db.session.add(
            WebAuthnCredential(
                user_id=user_id,
                name=name,
                credential_id=credential_id,
                public_key=b"\x00",
                created_at=now(),
            )
        )
        db.session.commit()


def test_phishing_resistant_client_answers_interaction_required_under_prompt_none(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, plain_secret = make_client(app, "plain")
    make_client(app, "bank", mfa_policy="phishing_resistant")
    # Signed in to another client with the app: a full session, but no WebAuthn in it.
    SignInFlow(
        client, RelyingParty(client, client_id="plain", secret=plain_secret)
    ).authorize_and_exchange(secret)
    response = client.get(RelyingParty(client, client_id="bank").authorize_url(prompt="none"))
    assert query(response.location)["error"] == "interaction_required"


def test_a_weaker_fresh_factor_cannot_remove_a_security_key(app, client):
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    add_key(app, user.id)
    _, secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    flow.password()
    while not flow.location.startswith("/signin/verify"):
        flow.follow()
    # Offered first: the key. Ada uses her app instead ("Try another way").
    assert 'data-webauthn="authenticate"' in client.get(flow.location).text
    flow.location += "&method=totp"
    flow.totp(totp_secret)
    flow.until_rp()
    with app.app_context():
        key_id = WebAuthnCredential.of_user(user.id)[0].id
    page = client.get("/account/security")
    response = client.post(
        f"/account/factors/webauthn/{key_id}/remove", data={"csrf_token": csrf_of(page)}
    )
    assert response.status_code == 302 and response.location.startswith("/account/verify")
    with app.app_context():
        assert len(WebAuthnCredential.of_user(user.id)) == 1


def test_cross_origin_and_foreign_credentials_are_refused(app, client):
    user = make_user(app)
    add_key(app, user.id)
    other = make_user(app, "eve@example.com")
    add_key(app, other.id, credential_id="ZXZlLWtleQ", name="Eve's key")
    _, secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    flow.password()
    while not flow.location.startswith("/signin/verify"):
        flow.follow()
    rid = flow.location.split("rid=")[1]
    token = csrf_of(client.get(flow.location))
    headers = {"X-CSRFToken": token}
    for credential_id, origin_flag in (("a2V5LW9uZQ", True), ("ZXZlLWtleQ", False)):
        options = client.post(f"/signin/webauthn/authenticate/options?rid={rid}", headers=headers)
        challenge = options.get_json()["challenge"]
        client_data = json.dumps(
            {
                "type": "webauthn.get",
                "challenge": challenge,
                "origin": "http://localhost",
                "crossOrigin": origin_flag,
            }
        )
        answer = client.post(
            f"/signin/webauthn/authenticate?rid={rid}",
            headers=headers,
            json={
                "credential": {
                    "id": credential_id,
                    "rawId": credential_id,
                    "type": "public-key",
                    "response": {
                        "clientDataJSON": b64url(client_data.encode()),
                        "authenticatorData": "AAAA",
                        "signature": "AAAA",
                    },
                },
            },
        )
        assert answer.status_code == 400 and "couldn" in answer.get_json()["error"]
    # The challenge is single use: replaying the last answer is refused too.
    again = client.post(f"/signin/webauthn/authenticate?rid={rid}", headers=headers, json={})
    assert again.status_code == 400


def test_webauthn_json_endpoints_need_csrf(app, client):
    user = make_user(app)
    add_key(app, user.id)
    response = client.post("/signin/passkey/options")
    assert response.status_code == 400 and b"challenge" not in response.data
    with client.session_transaction() as kept:
        assert "webauthn" not in kept, "no challenge may be issued without the CSRF token"
