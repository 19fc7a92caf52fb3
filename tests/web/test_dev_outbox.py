"""The development outbox page: lists sent mail under IDP_ENV=development, 404 otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp import mail
from tests.support import deliver_mail


@pytest.fixture
def overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """IDP_ENV as the test's `env` parameter says; development unless told otherwise."""
    return {"env": getattr(request, "param", "development")}


def test_outbox_lists_the_mail_newest_first(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        mail.send("ada@example.com", "email_code", code="042137", minutes=10, purpose="sign in")
        mail.send("bob@example.com", "factor_added", method_name="<script>x()</script>")
    deliver_mail(app)

    response = client.get("/dev/outbox")

    assert response.status_code == 200
    page = response.text
    assert page.index("bob@example.com") < page.index("ada@example.com")
    assert "A new way to sign in was added" in page and "Your code to sign in" in page
    assert "042137" in page
    assert "&lt;script&gt;x()&lt;/script&gt;" in page and "<script>x()" not in page


def test_outbox_is_empty_before_any_mail(client: FlaskClient) -> None:
    response = client.get("/dev/outbox")

    assert response.status_code == 200
    assert "No emails yet." in response.text
    assert "waiting for the mail worker" not in response.text


def test_outbox_says_how_much_mail_waits_for_the_worker(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        mail.send("ada@example.com", "password_changed")

    response = client.get("/dev/outbox")

    assert "1 email is waiting for the mail worker" in response.text
    assert "No emails yet." in response.text


@pytest.mark.parametrize("overrides", ["test", "production"], indirect=True)
def test_outbox_is_not_found_outside_development(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        mail.send("ada@example.com", "password_changed")

    response = client.get("/dev/outbox")

    assert response.status_code == 404
    assert "Your password was changed" not in response.text
