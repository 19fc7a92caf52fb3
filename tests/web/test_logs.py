"""Logs: one JSON line per request and audit event, with a request id, and no secrets."""

from __future__ import annotations

import json
import logging
import re

import pytest

from idp.logging_setup import TEXT_FORMAT, JsonFormatter, TextFormatter
from tests.oidc.test_tokens import OFFLINE
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    enroll_totp,
    latest_mail,
    make_client,
    make_user,
    submit,
    totp_now,
)

EMAIL = "ada.lovelace@example.com"
WRONG_PASSWORD = "not-my-password-42"


@pytest.fixture
def overrides() -> dict[str, object]:
    return {"log_format": "json"}


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    """Each captured record as the JSON formatter writes it: one parseable object per line."""
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert all("\n" not in line for line in lines)
    return [json.loads(line) for line in lines]


def test_a_whole_sign_in_leaves_no_secret_in_the_logs(app, client, caplog) -> None:
    caplog.set_level(logging.INFO)
    user = make_user(app, EMAIL)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    flow = SignInFlow(client, rp, email=EMAIL)
    flow.start(login_hint=EMAIL, scope=OFFLINE)
    assert flow.password(password=WRONG_PASSWORD).status_code == 401
    flow.start(login_hint=EMAIL, scope=OFFLINE)
    flow.password()
    totp_code = totp_now(secret, app=app)
    flow.totp(secret)
    params = flow.complete(secret)
    tokens = rp.redeem(params["code"]).get_json()
    session_cookie = client.get_cookie("idp_session").value
    refreshed = rp.refresh(tokens["refresh_token"]).get_json()
    client.get(f"/logout?id_token_hint={tokens['id_token']}")
    submit(app.test_client(), "/signin/forgot", {"email": EMAIL})
    reset_link = re.search(r"http://localhost(/signin/reset/\S+)", latest_mail(app))
    assert reset_link and app.test_client().get(reset_link.group(1)).status_code == 200

    secrets = {
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "TOTP code": totp_code,
        "authorization code": params["code"],
        "PKCE verifier": rp.verifier,
        "client secret": client_secret,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "ID token": tokens["id_token"],
        "new refresh token": refreshed["refresh_token"],
        "session cookie": session_cookie,
        "reset link": reset_link.group(1).rsplit("/", 1)[-1],
        "email": EMAIL,
        "email's local part": "ada.lovelace@",
    }
    text = caplog.text + "\n".join(json.dumps(line) for line in json_lines(caplog))
    leaked = [name for name, value in secrets.items() if value in text]
    assert leaked == []
    # ...and the logs are still worth reading: every request, every audit event.
    lines = json_lines(caplog)
    requests = [line for line in lines if line["logger"] == "idp.request"]
    assert {"method", "path", "status", "duration_ms", "request_id"} <= set(requests[0])
    assert not [line["path"] for line in requests if "?" in line["path"]]
    assert {"POST", "/token", 200} in [
        {line["method"], line["path"], line["status"]} for line in requests
    ]
    audits = {line["event"]: line for line in lines if line["logger"] == "idp.audit"}
    assert {"password.failed", "password.verified", "second_factor.verified"} <= set(audits)
    assert audits["password.failed"]["detail"]["email"] == "a***@example.com"


def test_the_request_id_is_taken_if_safe_and_echoed(client, caplog) -> None:
    caplog.set_level(logging.INFO)

    given = client.get("/signin", headers={"X-Request-ID": "lb-7f3a.42"})
    unsafe = client.get("/signin", headers={"X-Request-ID": "<script>" + "x" * 100})
    none = client.get("/signin")

    assert given.headers["X-Request-ID"] == "lb-7f3a.42"
    generated = {unsafe.headers["X-Request-ID"], none.headers["X-Request-ID"]}
    assert len(generated) == 2
    assert all(re.fullmatch(r"[0-9a-f]{16}", rid) for rid in generated)
    logged = [line["request_id"] for line in json_lines(caplog) if line["logger"] == "idp.request"]
    assert logged == ["lb-7f3a.42", unsafe.headers["X-Request-ID"], none.headers["X-Request-ID"]]


def test_the_text_format_writes_logging_s_own_time_across_seconds() -> None:
    # TextFormatter converts each second to local time once; every line must still read as
    # logging's default format would write it.
    ours, logging_s = TextFormatter(TEXT_FORMAT), logging.Formatter(TEXT_FORMAT)
    for created in (1764570000.001, 1764570000.999, 1764570001.5, 1764570000.25, 1764573600.0):
        record = logging.LogRecord("idp.request", logging.INFO, __file__, 1, "m", None, None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == logging_s.format(record)


def test_the_request_line_keeps_its_text_and_fields(client, caplog) -> None:
    caplog.set_level(logging.INFO)

    client.get("/signin", headers={"X-Request-ID": "lb-1"})

    (line,) = [r for r in caplog.records if r.name == "idp.request"]
    assert re.fullmatch(r"GET /signin 200 \d+\.\dms", line.getMessage())
    assert line.levelno == logging.INFO
    assert line.fields["request_id"] == "lb-1"
    assert {"method", "path", "endpoint", "status", "duration_ms"} <= line.fields.keys()
