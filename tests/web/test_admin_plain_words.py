"""The console says things in words: field errors name the field as people read it and sit next
to it, destructive actions ask first (without JavaScript), and the console speaks Spanish."""

from __future__ import annotations

import re

import pytest

from idp.extensions import db
from idp.models.client import Client
from idp.models.totp_credential import TotpCredential
from tests.support import enroll_totp, make_client, make_user
from tests.web.test_admin_clients import FORM, secret_on
from tests.web.test_admin_helpers import (
    admin_token,
    client_credentials,
    post_form,
    sign_in,
    signed_in_admin,
)
from tests.web.test_clear_states import duplicate_ids


@pytest.fixture
def admin(app, client):
    return signed_in_admin(app, client)


def _field(html: str, name: str) -> str:
    """The opening tag of the input, textarea or select named `name`."""
    match = re.search(rf'<(?:input|textarea|select) id="{name}"[^>]*>', html)
    assert match, f"no field {name}"
    return match.group(0)


def test_a_client_form_error_names_the_field_in_words_next_to_it_and_keeps_the_input(client, admin):
    response = post_form(
        client, "/admin/clients/new", {**FORM, "name": "Claims  Portal", "remember_days": "400"}
    )

    assert response.status_code == 422
    assert "remember_days must" not in response.text
    error = re.search(
        r'<p class="error field-error" id="error-remember_days">(.*?)</p>', response.text
    )
    assert error and error.group(1) == "Remember devices for (days) must be between 1 and 30"
    days = _field(response.text, "remember_days")
    assert 'aria-invalid="true"' in days and 'aria-describedby="error-remember_days"' in days
    assert 'value="400"' in days  # what the admin typed stays
    assert 'value="Claims  Portal"' in _field(response.text, "name")
    assert "aria-invalid" not in _field(response.text, "name")  # only the field at fault

    words = post_form(client, "/admin/clients/new", {**FORM, "remember_days": "two"})
    assert "Remember devices for (days) must be a whole number" in words.text


def test_field_errors_in_spanish(client, admin):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    response = post_form(client, "/admin/clients/new", {**FORM, "remember_days": "400"})
    assert response.status_code == 422
    assert "Recordar dispositivos durante (días) debe estar entre 1 y 30" in response.text
    assert '<html lang="es">' in response.text


def test_a_profile_error_keeps_what_was_typed(app, client, admin):
    user = make_user(app, "bob@example.com", name="Bob Baker")
    response = post_form(
        client, f"/admin/users/{user.subject}", {"name": "Robert Baker", "roles": "agent Bad!"}
    )
    assert response.status_code == 422
    assert 'value="Robert Baker"' in _field(response.text, "name")
    roles = _field(response.text, "roles")
    assert 'value="agent Bad!"' in roles and 'aria-invalid="true"' in roles
    assert "Roles has &#39;Bad!&#39;, which is not allowed" in response.text
    assert 'value="Bob Baker"' in client.get(f"/admin/users/{user.subject}").text  # not saved


def test_the_api_keeps_the_machine_field_and_gives_a_sentence(app, client):
    make_client(app, "billing")
    token = admin_token(app, client)
    response = client.patch(
        "/admin/api/v1/clients/billing",
        headers={"Authorization": f"Bearer {token}"},
        json={"remember_days": 400, "favourite_food": "soup"},
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {
        "field": "remember_days",
        "message": "Remember devices for (days) must be between 1 and 30",
    } in errors
    assert {"field": "favourite_food", "message": "favourite_food is not a known field"} in errors


def test_reset_mfa_asks_first_in_plain_words(app, client, admin):
    user = make_user(app, "bob@example.com")
    enroll_totp(app, user.id)
    page = client.get(f"/admin/users/{user.subject}")
    step = re.search(
        r'<details class="confirm">\s*<summary>Reset second factors</summary>(.*?)</details>',
        page.text,
        re.S,
    )
    assert step, "no confirmation step for the reset"
    assert 'name="confirmed" value="yes"' in step.group(1)
    assert "set up a new second factor" in step.group(1)

    asked = post_form(client, f"/admin/users/{user.subject}/reset-mfa")
    assert asked.status_code == 200
    assert (
        "Removes the authenticator apps, security keys, passkeys and recovery codes of "
        "bob@example.com" in asked.text
    )
    assert f'action="/admin/users/{user.subject}/reset-mfa"' in asked.text
    with app.app_context():
        assert db.session.query(TotpCredential).filter_by(user_id=user.id).count() == 1

    post_form(client, f"/admin/users/{user.subject}/reset-mfa", {"confirmed": "yes"})
    with app.app_context():
        assert db.session.query(TotpCredential).filter_by(user_id=user.id).count() == 0


def test_rotating_a_secret_asks_first(app, client, admin):
    secret = secret_on(post_form(client, "/admin/clients/new", FORM))
    asked = post_form(client, "/admin/clients/claims-portal/rotate-secret")
    assert asked.status_code == 200 and "The current secret stops working at once" in asked.text
    assert 'id="client-secret"' not in asked.text
    client_credentials(client, "claims-portal", secret, "profile")  # the old one still works


def test_deleting_a_user_asks_for_the_email_and_says_what_goes(app, client, admin):
    user = make_user(app, "bob@example.com")
    asked = post_form(client, f"/admin/users/{user.subject}/delete")
    assert asked.status_code == 200 and "This cannot be undone" in asked.text
    wrong = post_form(
        client, f"/admin/users/{user.subject}/delete", {"confirmed": "yes", "confirm": "bob@"}
    )
    assert wrong.status_code == 422
    typed = _field(wrong.text, "confirm")
    assert 'aria-invalid="true"' in typed and 'value="bob@"' in typed
    assert "confirm-error" in typed
    gone = post_form(
        client,
        f"/admin/users/{user.subject}/delete",
        {"confirmed": "yes", "confirm": "BOB@example.com"},
    )
    assert gone.status_code == 302
    assert client.get(f"/admin/users/{user.subject}").status_code == 404


def test_the_console_speaks_spanish(app, client, admin):
    user = make_user(app, "bob@example.com")
    enroll_totp(app, user.id)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    page = client.get(f"/admin/users/{user.subject}")
    assert "Restablecer segundos factores" in page.text
    assert "Dónde tiene la sesión abierta" in page.text
    assert "Reset second factors" not in page.text
    with app.app_context():
        assert db.session.query(Client).count() == 0
    assert "Todavía no hay clientes." in client.get("/admin/clients").text


def test_console_pages_have_unique_ids_and_every_destructive_action_asks(app, client, admin):
    bob = make_user(app, "bob@example.com")
    sign_in(app.test_client(), "bob@example.com", enroll_totp(app, bob.id))
    post_form(client, "/admin/clients/new", FORM)
    pages = {
        "/admin": None,
        "/admin/users": None,
        f"/admin/users/{bob.subject}": [
            "Reset second factors",
            "Sign out everywhere",
            "Sign out",
            "Delete user",
        ],
        "/admin/users/new": None,
        "/admin/users/import": None,
        "/admin/clients": None,
        "/admin/clients/new": None,
        "/admin/clients/claims-portal": ["Rotate secret", "Delete client"],
        "/admin/audit": None,
        "/admin/api-docs": None,
    }
    for url, steps in pages.items():
        page = client.get(url)
        assert page.status_code == 200, url
        assert not duplicate_ids(page.text), (url, duplicate_ids(page.text))
        for label in steps or []:
            step = re.search(
                rf"<details class=\"confirm\">\s*<summary>{label}</summary>(.*?)</details>",
                page.text,
                re.S,
            )
            assert step and 'name="confirmed" value="yes"' in step.group(1), (url, label)


def test_the_api_message_follows_accept_language_while_field_stays(app, client):
    make_client(app, "billing")
    token = admin_token(app, client)
    response = client.patch(
        "/admin/api/v1/clients/billing",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "es"},
        json={"remember_days": 0},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {
            "field": "remember_days",
            "message": "Recordar dispositivos durante (días) debe estar entre 1 y 30",
        }
    ]
