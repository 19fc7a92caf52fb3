"""Client credentials and userinfo answered before Flask (idp.web.protocol_shortcut).

The layer must be invisible: every answer it gives is the one Flask's views give to the same
request (status, headers, body), it shares /token's rate-limit counts with them, and every
request it does not answer itself (errors above all) reaches Flask unchanged.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.test import Client, TestResponse

from tests.support import (
    RelyingParty,
    SignInFlow,
    enroll_totp,
    make_client,
    make_user,
    update_client,
)

CC = {"grant_type": "client_credentials", "scope": "profile"}
# Differ between any two answers by design: the request id, and the lengths of fresh tokens.
PER_REQUEST_HEADERS = {"X-Request-ID", "Content-Length"}


def flask_path(app) -> Client:
    """A client of Flask's own WSGI app, behind the shortcut: the reference answers, from the
    address Flask's test client gives (werkzeug's own gives none)."""
    inner = app.extensions["idp.protocol_shortcut"].inner

    def from_localhost(environ: dict[str, Any], start_response: Any) -> Any:
        environ.setdefault("REMOTE_ADDR", "127.0.0.1")
        return inner(environ, start_response)

    return Client(from_localhost)


def hooks_ran(app) -> list[str]:
    """Paths of the requests Flask handled from now on."""
    seen: list[str] = []
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: seen.append(_path()))
    return seen


def _path() -> str:
    from flask import request

    return request.path


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def headers_of(response: TestResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in PER_REQUEST_HEADERS}


def claims_of(app, value: str) -> dict[str, Any]:
    jwks = KeySet.import_key_set(app.test_client().get("/jwks.json").get_json())
    return dict(jwt.decode(value, jwks, algorithms=["ES256", "RS256"]).claims)


def same_token_answers(app, fast: TestResponse, slow: TestResponse, *, jwt_format: bool) -> None:
    """Two client credentials answers agree in all but the token's own identity."""
    assert fast.status_code == slow.status_code == 200
    assert headers_of(fast) == headers_of(slow)
    fast_body, slow_body = fast.get_json(), slow.get_json()
    assert fast_body.keys() == slow_body.keys()
    assert {k: v for k, v in fast_body.items() if k != "access_token"} == {
        k: v for k, v in slow_body.items() if k != "access_token"
    }
    if jwt_format:
        fresh = ("jti", "iat", "exp")
        one, other = (
            claims_of(app, fast_body["access_token"]),
            claims_of(app, slow_body["access_token"]),
        )
        assert {k: v for k, v in one.items() if k not in fresh} == {
            k: v for k, v in other.items() if k not in fresh
        }
    else:
        assert len(fast_body["access_token"]) == len(slow_body["access_token"]) == 42


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
@pytest.mark.parametrize("auth", ["basic", "post"])
def test_client_credentials_are_answered_before_flask_as_flask_would(fresh_app, token_format, auth):
    method = "client_secret_basic" if auth == "basic" else "client_secret_post"
    _, secret = make_client(fresh_app, "svc", access_token_format=token_format, scopes=["profile"])
    update_client(fresh_app, "svc", token_endpoint_auth_method=method)
    rp = RelyingParty(fresh_app.test_client(), client_id="svc", secret=secret)
    seen = hooks_ran(fresh_app)
    fast = rp.token_request(CC, auth=auth)
    assert seen == [], "Flask handled a plain client credentials request"
    data = dict(CC, client_id="svc", client_secret=secret) if auth == "post" else CC
    headers = basic("svc", secret) if auth == "basic" else {}
    slow = flask_path(fresh_app).post("/token", data=data, headers=headers)
    assert seen == ["/token"]
    same_token_answers(fresh_app, fast, slow, jwt_format=token_format == "jwt")
    # Both tokens work where tokens are checked.
    for answer in (fast, slow):
        found = rp.introspect(answer.get_json()["access_token"]).get_json()
        assert found["active"] is True and found["client_id"] == "svc"


@pytest.mark.parametrize(
    ("data", "headers", "status"),
    [
        ({**CC}, basic("svc", "wrong-secret"), 401),  # invalid_client
        ({"grant_type": "client_credentials"}, basic("nobody", "x"), 401),
        ({"grant_type": "refresh_token", "refresh_token": "unknown"}, None, 400),
        ({"grant_type": "authorization_code", "code": "unknown"}, None, 400),
    ],
)
def test_refusals_are_the_ones_flask_gives(fresh_app, data, headers, status):
    _, secret = make_client(fresh_app, "svc", access_token_format="jwt", scopes=["profile"])
    headers = headers or basic("svc", secret)
    answer = fresh_app.test_client().post("/token", data=data, headers=headers)
    reference = flask_path(fresh_app).post("/token", data=data, headers=headers)
    assert answer.status_code == reference.status_code == status
    assert answer.get_json() == reference.get_json()
    assert headers_of(answer) == headers_of(reference)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({**CC, "audience": "x"}, 200),  # a parameter the shortcut does not know
        ({**CC, "scope": "profile\x00"}, 400),  # NUL: Flask's own hook refuses it
        ("grant_type=client_credentials&grant_type=client_credentials", 400),  # repeated
        ({**CC, "pad": "x" * 70_000}, 413),  # over the body cap
        ({"grant_type": "password", "username": "a", "password": "b"}, 400),
    ],
)
def test_what_the_shortcut_does_not_know_is_answered_by_flask(fresh_app, data, status):
    _, secret = make_client(fresh_app, "svc", access_token_format="jwt", scopes=["profile"])
    seen = hooks_ran(fresh_app)
    answer = fresh_app.test_client().post(
        "/token",
        data=data,
        headers=basic("svc", secret),
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == status
    assert seen == ["/token"], "the shortcut answered a request it must leave to Flask"


def signed_in_with_a_code(
    app, scope: str = "openid profile email"
) -> tuple[RelyingParty, str, int]:
    """Ada signed in (password, app code) at the client `rp`: (the RP, its code, Ada's id)."""
    user = make_user(app)
    totp = enroll_totp(app, user.id)
    _, secret = make_client(app)
    browser = app.test_client()
    rp = RelyingParty(browser, secret=secret)
    flow = SignInFlow(browser, rp)
    flow.start(scope=scope)
    return rp, flow.complete(totp)["code"], user.id


def test_code_exchange_and_refresh_are_answered_before_flask(fresh_app):
    rp, code, _ = signed_in_with_a_code(fresh_app, "openid profile email offline_access")
    seen = hooks_ran(fresh_app)
    exchange = rp.redeem(code)
    assert exchange.status_code == 200 and seen == []
    tokens = exchange.get_json()
    assert rp.verify_id_token(tokens["id_token"])["sub"]
    refreshed = rp.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200 and seen == []
    # A replayed code is refused here too, and takes the tokens it gave with it.
    replay = rp.redeem(code)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert rp.userinfo(refreshed.get_json()["access_token"]).status_code == 401
    assert seen == ["/userinfo"]  # the refused token's userinfo: Flask gives the 401


def test_the_audit_log_names_the_caller_of_a_request_answered_before_flask(fresh_app):
    from sqlalchemy import select

    from idp.extensions import db
    from idp.models.audit_event import AuditEvent

    rp, code, user_id = signed_in_with_a_code(fresh_app)
    assert rp.redeem(code).status_code == 200
    rp.browser.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": rp.verifier,
        },
        headers={**rp.basic_auth(), "User-Agent": "rp-server/1.0"},
        environ_base={"REMOTE_ADDR": "192.0.2.44"},
    )
    with fresh_app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == "authorization_code.replayed")
        ).one()
    assert (event.ip, event.user_agent, event.user_id) == ("192.0.2.44", "rp-server/1.0", user_id)


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_userinfo_is_answered_before_flask_with_flasks_bytes(fresh_app, token_format):
    user = make_user(fresh_app)
    totp = enroll_totp(fresh_app, user.id)
    _, secret = make_client(fresh_app, access_token_format=token_format)
    browser = fresh_app.test_client()
    rp = RelyingParty(browser, secret=secret)
    access = SignInFlow(browser, rp).authorize_and_exchange(totp).tokens["access_token"]
    seen = hooks_ran(fresh_app)
    fast = rp.userinfo(access)
    assert seen == []
    slow = flask_path(fresh_app).get("/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert fast.status_code == slow.status_code == 200
    assert fast.get_data() == slow.get_data() and fast.get_json()["email"] == "ada@example.com"
    assert headers_of(fast) == headers_of(slow)
    # Errors are Flask's: a wrong token, a token sent in a form body.
    assert rp.userinfo(access + "x").status_code == 401
    form = browser.post("/userinfo", data={"access_token": access})
    assert form.status_code == 200 and form.get_data() == slow.get_data()
    assert seen == ["/userinfo"] * 3  # the reference, the wrong token, the form body


@pytest.fixture
def overrides():
    return {}


@pytest.mark.parametrize("overrides", [{"ratelimit_enabled": True, "token_rate_limit": "3/minute"}])
def test_the_shortcut_and_flask_count_in_one_rate_limit_bucket(fresh_app, overrides):
    _, secret = make_client(fresh_app, "svc", access_token_format="jwt", scopes=["profile"])
    browser, reference = fresh_app.test_client(), flask_path(fresh_app)
    auth = basic("svc", secret)
    seen = hooks_ran(fresh_app)
    first = browser.post("/token", data=CC, headers=auth)
    second = reference.post("/token", data=CC, headers=auth)
    third = browser.post("/token", data=CC, headers=auth)
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in (first, second, third)] == ["2", "1", "0"]
    assert headers_of(first).keys() == headers_of(second).keys()
    assert first.headers["X-RateLimit-Limit"] == "3" and "Retry-After" in first.headers
    assert seen == ["/token"]  # the reference request only
    fourth = browser.post("/token", data=CC, headers=auth)
    assert fourth.status_code == 429 and seen == ["/token", "/token"]


@pytest.mark.parametrize(
    "overrides",
    [{"ratelimit_enabled": True, "token_rate_limit": "1/minute", "trusted_proxies": 1}],
)
def test_behind_a_proxy_the_shortcut_counts_the_forwarded_address(fresh_app, overrides):
    _, secret = make_client(fresh_app, "svc", access_token_format="jwt", scopes=["profile"])
    browser = fresh_app.test_client()

    def ask(address: str) -> int:
        headers = {**basic("svc", secret), "X-Forwarded-For": address}
        return browser.post("/token", data=CC, headers=headers).status_code

    assert [ask("203.0.113.7"), ask("203.0.113.7"), ask("198.51.100.9")] == [200, 429, 200]


def test_requests_answered_before_flask_still_sweep_expired_rows(fresh_app):
    from sqlalchemy import func, select

    from idp.extensions import db
    from idp.models.session import SessionRecord

    def sessions() -> int:
        with fresh_app.app_context():
            return db.session.scalar(select(func.count()).select_from(SessionRecord)) or 0

    user = make_user(fresh_app)
    totp = enroll_totp(fresh_app, user.id)
    _, rp_secret = make_client(fresh_app)
    browser = fresh_app.test_client()
    SignInFlow(browser, RelyingParty(browser, secret=rp_secret)).authorize_and_exchange(totp)
    assert sessions() == 1  # the browser's, idle for three hours below
    _, secret = make_client(fresh_app, "svc", access_token_format="jwt", scopes=["profile"])
    clock = fresh_app.extensions["idp.clock"]
    clock.advance(hours=3)
    sweeper = fresh_app.extensions["idp.sweeper"]
    with fresh_app.app_context():
        from idp.clock import now

        sweeper.next_at = now()  # due
    seen = hooks_ran(fresh_app)
    assert (
        fresh_app.test_client().post("/token", data=CC, headers=basic("svc", secret)).status_code
        == 200
    )
    assert seen == [] and sessions() == 0


def test_a_failure_before_flask_is_logged_and_flask_answers(fresh_app, monkeypatch, caplog):
    """Not an OAuth error nor an outage (those are Flask's to answer and log): a bug, said."""
    user = make_user(fresh_app)
    totp = enroll_totp(fresh_app, user.id)
    _, secret = make_client(fresh_app)
    browser = fresh_app.test_client()
    rp = RelyingParty(browser, secret=secret)
    access = SignInFlow(browser, rp).authorize_and_exchange(totp).tokens["access_token"]
    server = fresh_app.extensions["idp.oidc"]
    failed: list[str] = []

    def fails_once(real: Any) -> Any:
        def call(*args: Any) -> Any:
            if not failed:
                failed.append(real.__name__)
                raise RuntimeError("a bug")
            return real(*args)

        return call

    monkeypatch.setattr(server.userinfo, "answer", fails_once(server.userinfo.answer))
    monkeypatch.setattr(server, "create_token_response", fails_once(server.create_token_response))
    seen = hooks_ran(fresh_app)
    with caplog.at_level(logging.WARNING, logger="idp.web.protocol_shortcut"):
        assert rp.userinfo(access).get_json()["email"] == "ada@example.com"
        failed.clear()
        cc = rp.token_request({"grant_type": "client_credentials"}, auth="basic")
        assert cc.status_code == 200 and "access_token" in cc.get_json()
    assert failed == ["create_token_response"] and seen == ["/userinfo", "/token"]
    said = [r for r in caplog.records if r.name == "idp.web.protocol_shortcut"]
    assert [r.getMessage() for r in said] == ["protocol shortcut: Flask answers instead"] * 2
    assert all(r.exc_info and r.exc_info[0] is RuntimeError for r in said)


def test_a_failure_after_the_commit_still_answers_what_was_committed(
    fresh_app, monkeypatch, caplog
):
    """Handing on to Flask after the commit would redeem the code again: a replay, which
    revokes what was just issued. The committed answer goes out; the failure is logged."""
    rp, code, _ = signed_in_with_a_code(fresh_app, scope="openid offline_access")
    shortcut = fresh_app.extensions["idp.protocol_shortcut"]

    def fails() -> None:
        raise RuntimeError("housekeeping failed")

    monkeypatch.setattr(shortcut, "_sweep", fails)
    with caplog.at_level(logging.ERROR, logger="idp.web.protocol_shortcut"):
        answer = rp.redeem(code)
    [said] = [r for r in caplog.records if r.name == "idp.web.protocol_shortcut"]
    assert said.exc_info and said.exc_info[0] is RuntimeError
    monkeypatch.undo()

    assert answer.status_code == 200, answer.text
    tokens = answer.get_json()
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    assert rp.refresh(tokens["refresh_token"]).status_code == 200
