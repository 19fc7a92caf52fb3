"""With an https issuer: `__Host-` cookies (RFC 6265bis 4.1.3.2) and HSTS (RFC 6797)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support import RelyingParty, SignInFlow, enroll_totp, make_client, make_user

HSTS = "max-age=63072000; includeSubDomains"


@pytest.fixture
def overrides():
    return {"issuer": "https://idp.example"}


def https_browser(app) -> FlaskClient:
    """A browser talking https (as behind the TLS-terminating proxy)."""
    browser = app.test_client()
    browser.environ_base["wsgi.url_scheme"] = "https"
    return browser


def set_cookies(response) -> dict[str, str]:
    """Set-Cookie headers of one response by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


@pytest.fixture
def client_secret(app) -> str:
    """Ada, with an authenticator app, and a relying party."""
    user = make_user(app)
    app.extensions["test.totp"] = enroll_totp(app, user.id)
    return make_client(app)[1]


def sign_in(app, browser: FlaskClient, client_secret: str) -> list[dict[str, str]]:
    """Ada signs in with password and TOTP, trusting the browser; each Set-Cookie, by name."""
    secret = app.extensions["test.totp"]
    flow = SignInFlow(browser, RelyingParty(browser, secret=client_secret))
    seen = [set_cookies(flow.start()), set_cookies(browser.get(flow.location))]
    seen.append(set_cookies(flow.password()))
    seen.append(set_cookies(flow.totp(secret, remember=True)))
    flow.until_rp()
    return seen


def test_every_cookie_is_host_prefixed_secure_and_domainless(app, client_secret):
    seen = sign_in(app, https_browser(app), client_secret)
    headers = {name: header for batch in seen for name, header in batch.items()}
    assert {"__Host-idp_anon", "__Host-idp_session", "__Host-idp_device"} <= set(headers)
    assert not {"idp_anon", "idp_session", "idp_device"} & set(headers)
    for header in headers.values():
        assert "Secure" in header and "Path=/" in header and "Domain" not in header, header


def test_hsts_on_every_response(app):
    browser = https_browser(app)
    for path in ("/signin", "/.well-known/openid-configuration", "/jwks.json", "/healthz"):
        assert browser.get(path).headers["Strict-Transport-Security"] == HSTS, path


@pytest.mark.parametrize("overrides", [{}])  # the tests' http://localhost issuer
def test_an_http_issuer_keeps_plain_names_and_sends_no_hsts(reused_app):
    browser = reused_app.test_client()
    page = browser.get("/signin")
    assert "Strict-Transport-Security" not in page.headers
    assert browser.get_cookie("idp_anon") is not None


def test_cookies_from_before_the_prefix_keep_the_session_and_the_trusted_browser(
    app, client_secret
):
    old = https_browser(app)
    sign_in(app, old, client_secret)
    session, device = (old.get_cookie(f"__Host-idp_{n}").value for n in ("session", "device"))
    # The same browser as an earlier release left it: the same values under the plain names.
    upgraded = https_browser(app)
    upgraded.set_cookie("idp_session", session)
    upgraded.set_cookie("idp_device", device)
    assert upgraded.get("/account/security").status_code == 200  # still signed in
    assert upgraded.get_cookie("__Host-idp_session").value == session
    assert upgraded.get_cookie("idp_session") is None

    upgraded.delete_cookie("__Host-idp_session")  # the session ends; the browser stays trusted
    flow = SignInFlow(upgraded, RelyingParty(upgraded, secret=client_secret))
    flow.start()
    flow.password()
    assert "code" in flow.until_rp()  # no second-factor challenge on the way
    assert upgraded.get_cookie("__Host-idp_device").value == device
    assert upgraded.get_cookie("idp_device") is None
