"""Bad authorization requests: refused without redirecting when the client or its redirect_uri is
in doubt, answered with an OAuth error (with `iss`, RFC 9207) otherwise; never a 500."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support import (
    REDIRECT_URI,
    RelyingParty,
    SignInFlow,
    enroll_totp,
    make_client,
    make_user,
    query,
    update_client,
)

ISSUER = "http://localhost"


@pytest.fixture
def rp(app, client) -> RelyingParty:
    """A registered confidential client; no one signed in."""
    _, secret = make_client(app)
    return RelyingParty(client, secret=secret)


@pytest.fixture
def spa(app, client) -> RelyingParty:
    """A registered public client."""
    make_client(app, "spa", public=True)
    return RelyingParty(client, "spa")


def error_redirect(response, rp: RelyingParty) -> dict[str, str]:
    """The OAuth error sent to the RP's redirect_uri, with state and exactly one iss."""
    assert response.status_code == 302, response.text[:300]
    location = response.headers["Location"]
    assert location.startswith(rp.redirect_uri + "?"), location
    raw = parse_qs(urlsplit(location).query)
    assert raw["iss"] == [ISSUER]  # RFC 9207 2: on error responses too, once
    params = query(location)
    assert params["state"] == rp.state
    assert "code" not in params
    return params


def refused_without_redirect(response) -> None:
    """The friendly error page: status 400, no Location, nothing for an attacker to receive."""
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    assert "We can" in response.text  # the page's title, "We can't continue"


# Not redirected: the client or the redirect_uri cannot be trusted --------------------------


def test_unknown_client_gets_the_error_page(client, rp):
    response = client.get(rp.authorize_url(client_id="ghost"))
    refused_without_redirect(response)
    assert "not registered" in response.text


def test_missing_client_id_gets_the_error_page(client, rp):
    refused_without_redirect(client.get(rp.authorize_url(client_id=None)))


def test_a_disabled_client_gets_the_error_page(app, client, rp):
    update_client(app, "rp", disabled=True)
    refused_without_redirect(client.get(rp.authorize_url()))


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        REDIRECT_URI + "/",
        REDIRECT_URI + "?next=1",
        REDIRECT_URI.upper(),
        "https://rp.example/callback#x",
        "http://rp.example/callback",
    ],
)
def test_a_redirect_uri_that_does_not_match_exactly_gets_the_error_page(client, rp, redirect_uri):
    response = client.get(rp.authorize_url(redirect_uri=redirect_uri))
    refused_without_redirect(response)
    assert "return address" in response.text


def test_an_openid_request_must_name_its_redirect_uri(client, rp):
    # OIDC Core 3.1.2.1: redirect_uri is REQUIRED; never implied from the registration.
    refused_without_redirect(client.get(rp.authorize_url(redirect_uri=None)))


def test_errors_found_after_a_bad_redirect_uri_still_do_not_redirect(client, rp):
    response = client.get(
        rp.authorize_url(redirect_uri="https://evil.example/cb", response_type="token")
    )
    # A bad response_type with a bad redirect_uri must not leak to evil.example.
    assert "evil.example" not in response.headers.get("Location", "")
    assert response.status_code == 400


# Redirected with an OAuth error ------------------------------------------------------------


def test_unsupported_response_type(client, rp):
    params = error_redirect(client.get(rp.authorize_url(response_type="token")), rp)
    assert params["error"] == "unsupported_response_type"


def test_missing_response_type(client, rp):
    params = error_redirect(client.get(rp.authorize_url(response_type=None)), rp)
    assert params["error"] in ("invalid_request", "unsupported_response_type")


def test_a_public_client_must_send_pkce(client, spa):
    params = error_redirect(client.get(spa.authorize_url(pkce=False)), spa)
    assert params["error"] == "invalid_request"


@pytest.mark.parametrize("challenge", ["too-short", "x" * 129, "has spaces" * 10])
def test_an_invalid_code_challenge_is_refused(client, spa, challenge):
    params = error_redirect(client.get(spa.authorize_url(code_challenge=challenge)), spa)
    assert params["error"] == "invalid_request"


@pytest.mark.parametrize("method", ["plain", "S512", "", None])
def test_only_s256_is_accepted(client, rp, spa, method):
    for who in (rp, spa):
        response = client.get(who.authorize_url(code_challenge_method=method))
        assert error_redirect(response, who)["error"] == "invalid_request"


def test_prompt_none_without_a_session_is_login_required(client, rp):
    params = error_redirect(client.get(rp.authorize_url(prompt="none")), rp)
    assert params["error"] == "login_required"


def test_prompt_none_with_another_prompt_is_invalid(client, rp):
    params = error_redirect(client.get(rp.authorize_url(prompt="none login")), rp)
    assert params["error"] == "invalid_request"


@pytest.mark.parametrize("max_age", ["abc", "-1", "1.5", "1e3", "0x10", " "])
def test_a_malformed_max_age_is_invalid_request(client, rp, max_age):
    params = error_redirect(client.get(rp.authorize_url(max_age=max_age)), rp)
    assert params["error"] == "invalid_request"


@pytest.mark.parametrize(
    "claims",
    ["{not json", "[1, 2]", '"name"', '{"userinfo": "name"}', '{"id_token": [1]}', "null"],
)
def test_a_malformed_claims_parameter_is_invalid_request(client, rp, claims):
    params = error_redirect(client.get(rp.authorize_url(claims=claims)), rp)
    assert params["error"] == "invalid_request"


def test_request_objects_are_refused_not_ignored(client, rp):
    # Discovery says request_parameter_supported=false; OIDC Core 3.1.2.6 names the error.
    response = client.get(rp.authorize_url(request="eyJhbGciOiJub25lIn0.e30."))
    assert error_redirect(response, rp)["error"] == "request_not_supported"
    response = client.get(rp.authorize_url(request_uri="https://rp.example/req.jwt"))
    assert error_redirect(response, rp)["error"] == "request_uri_not_supported"


@pytest.mark.parametrize(
    "repeated", ["state=second", "redirect_uri=https://evil.example/cb", "client_id=x", "scope=a"]
)
def test_a_repeated_parameter_gets_the_error_page(client, rp, repeated):
    # RFC 6749 3.1: parameters MUST NOT repeat; which copy to trust is unknowable, so the
    # answer goes nowhere (not even to the redirect_uri, which may be the repeated one).
    refused_without_redirect(client.get(rp.authorize_url() + "&" + repeated))


def test_a_denied_consent_is_access_denied_with_iss(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app, first_party=False)
    rp = RelyingParty(client, secret=client_secret)
    flow = SignInFlow(client, rp)
    flow.start()
    flow.password()
    flow.totp(secret)
    while not flow.location.startswith("/consent/"):
        flow.follow()
    response = flow.consent(allow=False)  # the request answers the RP at once

    assert error_redirect(response, rp)["error"] == "access_denied"


# Never a 500 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"scope": ""},
        {"scope": "openid " * 200},
        {"state": "s" * 4000},
        {"nonce": "n" * 4000},
        {"ui_locales": "%%%"},
        {"display": "hologram"},
        {"acr_values": "urn:nope"},
        {"login_hint": "x" * 5000},
        {"id_token_hint": "not.a.jwt"},
        {"response_mode": "fragment"},
        {"response_mode": "form_post"},
        {"claims": json.dumps({"id_token": {"acr": {"values": [1, None]}}})},
        {"claims": json.dumps({"id_token": {"acr": {"value": {"x": 1}, "essential": True}}})},
        {"max_age": "9" * 40},
        {"prompt": "select_account"},
        {"code_challenge": "\u00e9" * 50},
        {"redirect_uri": "javascript:alert(1)"},
        {"client_id": "\u0000"},
        {"client_id": "rp\u0000"},
        {"state": "a\u0000b"},
        {"nonce": "a\u0000b"},
        {"login_hint": "ada\u0000@example.com"},
        {"scope": "openid\u0000 email"},
        {"code_challenge": "\u0000" * 43},
        {"redirect_uri": REDIRECT_URI + "\u0000"},
        {"claims": json.dumps({"userinfo": {"name\u0000": None}})},
    ],
)
def test_odd_input_is_never_a_server_error(client, rp, extra):
    response = client.get(rp.authorize_url(**extra))
    assert response.status_code in (200, 302, 400)
    location = response.headers.get("Location", "")
    if location.startswith(REDIRECT_URI):
        assert parse_qs(urlsplit(location).query)["iss"] == [ISSUER]


def test_odd_input_after_sign_in_is_never_a_server_error(app, client, clock):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    SignInFlow(client, rp).authorize_and_exchange(secret)
    for extra in (
        {"max_age": "9" * 40},
        {"max_age": "0"},
        {"id_token_hint": "not.a.jwt"},
        {"acr_values": "urn:idp:acr:phr"},
        {"claims": json.dumps({"id_token": {"acr": {"values": [1]}}})},
        {"prompt": "none", "acr_values": "urn:idp:acr:phr"},
    ):
        response = client.get(rp.authorize_url(**extra))
        assert response.status_code in (200, 302, 400), extra


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"grant_type": "authorization_code"},
        {"grant_type": "authorization_code", "code": ""},
        {"grant_type": "refresh_token"},
        {"grant_type": "refresh_token", "refresh_token": "x" * 5000},
        {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
    ],
)
def test_odd_token_requests_are_oauth_errors(rp, data):
    response = rp.token_request(data)
    assert response.status_code in (400, 401)
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_token_endpoint_refuses_get(client):
    response = client.get("/token")
    assert response.status_code == 405
    assert response.mimetype == "application/json"


# Characters an error_description may not carry (RFC 6749 5.2), in every echoed parameter.
UNPRINTABLE = ['"', "\\", "\u00e9", "\u0000", "\n"]


@pytest.mark.parametrize(
    "param",
    ["response_type", "redirect_uri", "scope", "client_id", "state", "prompt", "max_age"],
)
def test_unprintable_characters_in_a_parameter_are_never_a_server_error(client, rp, param):
    base = {
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "client_id": "rp",
        "state": "s",
        "prompt": "none",
        "max_age": "1",
    }
    for char in UNPRINTABLE:
        response = client.get(rp.authorize_url(**{param: base[param] + char}))
        assert response.status_code in (302, 400), (param, char)
        location = response.headers.get("Location", "")
        assert location == "" or location.startswith((REDIRECT_URI, "/signin")), location


@pytest.mark.parametrize("endpoint", ["/token", "/revoke", "/introspect"])
def test_unprintable_characters_at_the_back_channel_are_oauth_errors(client, rp, endpoint):
    fields = ["grant_type", "client_id", "scope", "code", "redirect_uri", "token_type_hint"]
    for field in fields:
        for char in UNPRINTABLE:
            data = {
                "grant_type": "client_credentials",
                "client_id": "rp",
                "client_secret": rp.secret,
                "scope": "openid",
                "code": "x",
                "redirect_uri": REDIRECT_URI,
                "token": "abc",
                "token_type_hint": "access_token",
            }
            data[field] += char
            response = client.post(endpoint, data=data)
            assert response.status_code in (200, 400, 401), (field, char)
            assert response.mimetype == "application/json"


@pytest.mark.parametrize("levels", [40, 100_000])
def test_a_deeply_nested_claims_parameter_is_invalid_request(client, rp, levels):
    # OIDC Core 5.5: `claims` is JSON inside a query parameter; too deep is malformed, not a 500.
    claims = '{"userinfo": ' + "[" * levels + "]" * levels + "}"
    params = error_redirect(client.get(rp.authorize_url(claims=claims)), rp)
    assert params["error"] == "invalid_request"


# Credentials as bytes that are not UTF-8, or none at all after the scheme.
UNREADABLE_BASIC = [b"\xff\xfe:secret", b"rp:\xc3\x28", b"\x80", b""]


@pytest.mark.parametrize("endpoint", ["/token", "/revoke", "/introspect"])
@pytest.mark.parametrize("credentials", UNREADABLE_BASIC)
def test_basic_credentials_that_are_not_utf8_are_invalid_client(client, rp, endpoint, credentials):
    # RFC 6749 2.3.1 (UTF-8 credentials) and 5.2: a failed Basic authentication is a 401
    # invalid_client with a WWW-Authenticate challenge.
    header = "Basic " + base64.b64encode(credentials).decode() if credentials else "Basic "
    data = {"grant_type": "client_credentials", "token": "abc"}
    response = client.post(endpoint, data=data, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    "repeated",
    [
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=client_credentials&scope=openid&scope=profile",
        "grant_type=authorization_code&code=a&code=b",
        "grant_type=refresh_token&refresh_token=a&refresh_token=b",
        "grant_type=client_credentials&client_id=rp&client_id=rp",
    ],
)
def test_a_repeated_parameter_at_the_token_endpoint_is_invalid_request(client, rp, repeated):
    # RFC 6749 3.2: parameters MUST NOT be included more than once; the first copy must not win.
    response = client.post(
        "/token",
        data=repeated,
        headers={**rp.basic_auth(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_repeated_parameter_name_with_odd_characters_is_not_echoed(client, rp):
    response = client.post(
        "/token",
        data="grant_type=client_credentials&%C3%A9=1&%C3%A9=2",
        headers={**rp.basic_auth(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "repeated",
    ["nonce=other", "prompt=none", "max_age=5", "claims=%7B%7D", "acr_values=x", "login_hint=x"],
)
def test_any_repeated_parameter_is_invalid_request_at_the_redirect_uri(client, rp, repeated):
    # RFC 6749 3.1 covers every parameter, not only the five Authlib checks; the client and its
    # (single) redirect_uri are known good, so the error goes back to the RP.
    name, value = repeated.split("=")
    response = client.get(rp.authorize_url(**{name: value}) + "&" + repeated)
    params = error_redirect(response, rp)
    assert params["error"] == "invalid_request"
