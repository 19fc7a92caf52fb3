"""Setting up an authenticator app on the phone that holds it: open, copy, type, save."""

from __future__ import annotations

import re

import pytest

from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    key_on_page,
    make_client,
    make_user,
    totp_now,
)


@pytest.fixture
def enroll_url(app, client) -> str:
    make_user(app)
    _, secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    flow.password()
    rid = flow.location.split("rid=")[1]
    return f"/signin/enroll/totp?rid={rid}"


def fields(html: str) -> list[str]:
    return re.findall(r'<input id="(\w+)"', html)


def test_the_page_opens_the_app_and_offers_to_copy_the_key(app, client, enroll_url):
    page = client.get(enroll_url)
    link = re.search(
        r'<a href="(otpauth://totp/[^"]+)"[^>]*>Open in authenticator app</a>', page.text
    )
    assert link and "secret=" in link.group(1)
    button = re.search(r"<button[^>]*data-copy=\"#totp-key\"[^>]*>", page.text)
    assert button and " hidden" in button.group(0), "shown by the script, where it can work"
    assert 'src="/static/copy.js"' in page.text and "<script>" not in page.text
    assert client.get("/static/copy.js").status_code == 200


def test_the_code_comes_first_and_has_the_focus_on_arrival_and_after_an_error(
    app, client, enroll_url
):
    page = client.get(enroll_url)
    assert [f for f in fields(page.text) if f in ("code", "name")] == ["code", "name"]
    code_input = re.search(r'<input id="code"[^>]*>', page.text, re.DOTALL)
    assert code_input and "autofocus" in code_input.group(0)
    assert 'inputmode="numeric"' in code_input.group(0)

    wrong = client.post(
        enroll_url, data={"csrf_token": csrf_of(page), "name": "Phone", "code": "000000"}
    )
    assert wrong.status_code == 400
    code_input = re.search(r'<input id="code"[^>]*>', wrong.text, re.DOTALL)
    assert code_input and "autofocus" in code_input.group(0)
    assert 'aria-describedby="form-error"' in code_input.group(0)
    assert 'id="form-error"' in wrong.text


def test_the_recovery_codes_file_names_the_service_and_the_account(app, client, enroll_url):
    page = client.get(enroll_url)
    done = client.post(
        enroll_url,
        data={
            "csrf_token": csrf_of(page),
            "name": "Phone",
            "code": totp_now(key_on_page(page), app=app),
        },
    )
    product = app.extensions["idp.settings"].product_name
    download = client.get(done.location + "&format=txt")
    assert download.mimetype == "text/plain"
    assert product in download.text and "ada@example.com" in download.text
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "recovery-codes-ada@example.com.txt" in disposition
    assert re.sub(r"[^A-Za-z0-9@._-]+", "-", product).strip("-.") in disposition


def test_the_file_is_in_spanish_for_a_spanish_reader(app, client, enroll_url):
    page = client.get(enroll_url)
    done = client.post(
        enroll_url,
        data={
            "csrf_token": csrf_of(page),
            "name": "Phone",
            "code": totp_now(key_on_page(page), app=app),
        },
    )
    download = client.get(done.location + "&format=txt", headers={"Accept-Language": "es"})
    assert "Códigos de recuperación" in download.text
