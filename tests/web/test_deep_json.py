"""Deeply nested JSON from outside is a malformed body (400), never a RecursionError (500)."""

from __future__ import annotations

import base64

import pytest

from tests.support import csrf_of, make_client, make_user
from tests.web.test_admin_api import API, Api, assert_problem
from tests.web.test_admin_helpers import admin_token

# Far past our limit (32) and Python's recursion limit (1000), yet under the 64 KiB body cap.
DEEP = 20_000


def nested(levels: int, inner: str = "1") -> str:
    """An array nested `levels` deep."""
    return "[" * levels + inner + "]" * levels


def passkey_headers(client) -> dict[str, str]:
    """The CSRF header the sign-in page's script sends, and a passkey challenge to answer."""
    token = csrf_of(client.get("/signin"))
    headers = {"X-CSRFToken": token}
    assert client.post("/signin/passkey/options", headers=headers).status_code == 200
    return headers


@pytest.mark.parametrize("body", [nested(DEEP), '{"credential": ' + nested(40) + "}"])
def test_a_deeply_nested_passkey_answer_is_refused(app, client, body):
    make_user(app)
    headers = passkey_headers(client)
    response = client.post(
        "/signin/passkey", data=body, headers=headers, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_deeply_nested_client_data_in_a_passkey_answer_is_refused(app, client):
    make_user(app)
    headers = passkey_headers(client)
    client_data = base64.urlsafe_b64encode(nested(DEEP).encode()).rstrip(b"=").decode()
    credential = {
        "id": "a2V5LW9uZQ",
        "rawId": "a2V5LW9uZQ",
        "type": "public-key",
        "response": {
            "clientDataJSON": client_data,
            "authenticatorData": "AAAA",
            "signature": "AAAA",
        },
    }
    response = client.post("/signin/passkey", json={"credential": credential}, headers=headers)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/clients"), ("POST", "/users"), ("PATCH", "/clients/rp")]
)
def test_a_deeply_nested_admin_api_body_is_a_bad_request(app, client, method, path):
    make_client(app, "rp")
    api = Api(client, admin_token(app, client))
    for body in (nested(DEEP), '{"name": ' + nested(40) + "}"):
        response = client.open(
            API + path,
            method=method,
            data=body,
            headers=api.headers,
            content_type="application/json",
        )
        assert_problem(response, 400, "http_400")  # as any malformed body


def test_json_nested_within_the_limit_still_works(app, client):
    api = Api(client, admin_token(app, client))
    response = api("POST", "/users", json={"email": "deep@example.com", "name": "Deep"})
    assert response.status_code == 201, response.text
