"""A database that refuses connections: 503 with Retry-After everywhere, discovery still 200."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from jinja2 import StrictUndefined

from idp import create_app
from idp.rate_limiter import limiter_of
from tests.conftest import base_overrides

# Nothing listens on port 1: every connection attempt is refused at once.
DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/test"


@pytest.fixture
def down_app(_environment: dict[str, Any], tmp_path: Path) -> Flask:
    """An app whose database is unreachable; the rate limiter counts in memory."""
    settings = base_overrides(tmp_path, DOWN, _environment["keys_dir"])
    settings.update(ratelimit_enabled=True, db_connect_timeout_seconds=2)
    app = create_app(settings)
    app.config["TESTING"] = True  # a bug raises instead of hiding behind a polite page
    app.jinja_env.undefined = StrictUndefined
    return app


def assert_unavailable(response: Any, mimetype: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    assert response.mimetype == mimetype


def test_pages_answer_a_styled_503_with_a_session_cookie_or_without(down_app, caplog):
    browser = down_app.test_client()
    authorize = "/authorize?client_id=rp&response_type=code&scope=openid"
    assert_unavailable(browser.get(authorize), "text/html")
    browser.set_cookie("idp_session", "a-session-the-database-would-know")
    assert_unavailable(browser.get("/account/security"), "text/html")
    page = browser.get(authorize)
    assert_unavailable(page, "text/html")
    assert "Temporarily unavailable" in page.text and "idp.css" in page.text
    assert "idp_session" not in page.headers.get("Set-Cookie", "")  # the cookie survives
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_password_post_answers_503(down_app):
    browser = down_app.test_client()
    form = browser.get("/signin")
    assert form.status_code == 200  # needs nothing stored yet
    token = form.text.split('name="csrf-token" content="')[1].split('"')[0]
    answer = browser.post(
        "/signin", data={"csrf_token": token, "email": "ada@example.com", "password": "x" * 12}
    )
    assert_unavailable(answer, "text/html")


def test_protocol_endpoints_answer_503_json(down_app, caplog):
    rp = down_app.test_client()
    with caplog.at_level(logging.WARNING, logger="idp.web.protocol_shortcut"):
        token = rp.post("/token", data={"grant_type": "client_credentials"}, auth=("rp", "secret"))
    assert_unavailable(token, "application/json")
    # The layer before Flask says it in one line; Flask's own handler logs the outage.
    [said] = [r for r in caplog.records if r.name == "idp.web.protocol_shortcut"]
    assert "database unavailable" in said.getMessage() and said.exc_info is None
    assert token.json["error"] == "temporarily_unavailable"
    userinfo = rp.get("/userinfo", headers={"Authorization": "Bearer abc"})
    assert_unavailable(userinfo, "application/json")
    for path in ("/introspect", "/revoke"):
        answer = rp.post(path, data={"token": "abc"}, auth=("rp", "secret"))
        assert_unavailable(answer, "application/json")
    # A database error in /token's rate-limit key is not a Redis outage.
    assert not limiter_of(down_app)._storage_dead


def test_the_admin_api_answers_503_problem_details(down_app):
    answer = down_app.test_client().get(
        "/admin/api/v1/users", headers={"Authorization": "Bearer abc"}
    )
    assert_unavailable(answer, "application/problem+json")
    assert answer.json["code"] == "temporarily_unavailable" and answer.json["status"] == 503


def test_discovery_and_jwks_answer_from_memory(down_app):
    browser = down_app.test_client()
    browser.set_cookie("idp_session", "a-session-the-database-would-know")
    assert browser.get("/.well-known/openid-configuration").status_code == 200
    assert browser.get("/jwks.json").json["keys"]
