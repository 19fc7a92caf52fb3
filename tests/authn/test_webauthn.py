"""authn.webauthn: registration and assertion verified by py_webauthn against a software key."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from idp.authn import webauthn
from idp.authn.webauthn import CredentialAlreadyRegistered, PossibleClone, WebAuthnFailed
from idp.models.user import User
from tests.soft_authenticator import SoftAuthenticator
from tests.support import make_user

NOW = datetime(2026, 3, 4, 5, 6, 7)
RP_ID = "localhost"
ORIGINS = ["http://localhost"]


def options(ceremony: webauthn.Ceremony) -> dict[str, Any]:
    return json.loads(ceremony.options_json)


def register(user: User, key: SoftAuthenticator, **answer: Any) -> Any:
    ceremony = webauthn.registration_options(user, rp_id=RP_ID, rp_name="Insurer")
    return webauthn.register(
        user,
        key.create(options(ceremony), **answer),
        name=" My key ",
        challenge=ceremony.challenge,
        rp_id=RP_ID,
        origins=ORIGINS,
        now=NOW,
    )


def sign_in(user: User | None, key: SoftAuthenticator, **answer: Any) -> webauthn.Asserted:
    ceremony = webauthn.authentication_options(user, rp_id=RP_ID)
    return webauthn.authenticate(
        key.get(options(ceremony), **answer),
        user=user,
        challenge=ceremony.challenge,
        rp_id=RP_ID,
        origins=ORIGINS,
        now=NOW + timedelta(minutes=1),
    )


def test_registration_options_exclude_keys_the_user_has(ctx, user) -> None:
    first = options(webauthn.registration_options(user, rp_id=RP_ID, rp_name="Insurer"))
    assert first["rp"] == {"id": RP_ID, "name": "Insurer"}
    assert first["user"]["name"] == user.email and first["attestation"] == "none"
    assert first["excludeCredentials"] == []
    row = register(user, SoftAuthenticator())
    again = options(webauthn.registration_options(user, rp_id=RP_ID, rp_name="Insurer"))
    assert [c["id"] for c in again["excludeCredentials"]] == [row.credential_id]


def test_a_registered_key_signs_in_and_its_counter_is_kept(ctx, user) -> None:
    key = SoftAuthenticator()
    row = register(user, key)
    assert row.name == "My key" and row.user_id == user.id and row.transports == ["usb"]
    assert not row.backup_eligible
    asserted = sign_in(user, key)
    assert asserted.credential.id == row.id and asserted.user_verified
    assert row.sign_count == 1 and row.last_used_at == NOW + timedelta(minutes=1)
    sign_in(user, key)
    assert row.sign_count == 2


def test_the_same_key_cannot_be_registered_twice(ctx, user) -> None:
    key = SoftAuthenticator()
    ceremony = webauthn.registration_options(user, rp_id=RP_ID, rp_name="Insurer")
    answer = key.create(options(ceremony))
    checks = {"challenge": ceremony.challenge, "rp_id": RP_ID, "origins": ORIGINS, "now": NOW}
    assert webauthn.register(user, answer, name="", **checks).name == "Security key"
    with pytest.raises(CredentialAlreadyRegistered):
        webauthn.register(user, answer, name="again", **checks)


@pytest.mark.parametrize(
    "answer",
    [
        {"origin": "https://phish.example"},
        {"cross_origin": True},
        {"rp_id": "example.com"},
        {"challenge": "bm90LXRoZS1jaGFsbGVuZ2U"},
        {"type_": "webauthn.get"},
        {"user_present": False},
    ],
    ids=["origin", "cross-origin", "rp-id", "challenge", "type", "no-presence"],
)
def test_a_registration_answer_a_browser_would_not_send_is_refused(ctx, user, answer) -> None:
    with pytest.raises(WebAuthnFailed):
        register(user, SoftAuthenticator(), **answer)


@pytest.mark.parametrize(
    "answer",
    [
        {"origin": "https://phish.example"},
        {"cross_origin": True},
        {"rp_id": "example.com"},
        {"challenge": "bm90LXRoZS1jaGFsbGVuZ2U"},
        {"type_": "webauthn.create"},
    ],
    ids=["origin", "cross-origin", "rp-id", "challenge", "type"],
)
def test_an_assertion_a_browser_would_not_send_is_refused(ctx, user, answer) -> None:
    key = SoftAuthenticator()
    register(user, key)
    with pytest.raises(WebAuthnFailed):
        sign_in(user, key, **answer)


def test_a_counter_that_goes_back_suggests_a_cloned_key(ctx, user) -> None:
    key = SoftAuthenticator()
    register(user, key)
    sign_in(user, key)
    key.credential().sign_count = 0  # the copy: its next answer carries counter 1 again
    with pytest.raises(PossibleClone):
        sign_in(user, key)


def test_synced_passkeys_keep_their_counter_at_zero(ctx, user) -> None:
    key = SoftAuthenticator(backup_eligible=True, counter_step=0)
    row = register(user, key)
    assert row.backup_eligible and row.backed_up
    assert sign_in(user, key).backup_eligible
    assert sign_in(user, key).credential.sign_count == 0


def test_another_users_key_is_refused(app, ctx, user) -> None:
    key = SoftAuthenticator()
    register(user, key)
    other = make_user(app, "grace@example.com")
    ceremony = webauthn.authentication_options(user, rp_id=RP_ID)
    with pytest.raises(WebAuthnFailed):
        webauthn.authenticate(
            key.get(options(ceremony)),
            user=other,
            challenge=ceremony.challenge,
            rp_id=RP_ID,
            origins=ORIGINS,
            now=NOW,
        )


def test_a_passkey_names_its_user_and_must_verify_them(ctx, user) -> None:
    key = SoftAuthenticator()
    row = register(user, key)
    ceremony = options(webauthn.authentication_options(None, rp_id=RP_ID))
    assert ceremony["allowCredentials"] == [] and ceremony["userVerification"] == "required"
    assert sign_in(None, key).credential.id == row.id
    with pytest.raises(WebAuthnFailed):
        sign_in(None, key, user_verified=False)


def test_a_key_that_does_not_say_whose_it_is_cannot_be_a_passkey(ctx, user) -> None:
    key = SoftAuthenticator()
    register(user, key)
    key.credential().discoverable = False  # no userHandle in its answers
    assert sign_in(user, key).credential.user_id == user.id
    with pytest.raises(WebAuthnFailed):
        sign_in(None, key, credential=key.credential())


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '"text"', "[" * 10_000])
def test_the_browsers_json_must_be_an_object(body: str) -> None:
    with pytest.raises(WebAuthnFailed):
        webauthn.parse_json(body)
    assert webauthn.parse_json('{"id": "x"}') == {"id": "x"}
