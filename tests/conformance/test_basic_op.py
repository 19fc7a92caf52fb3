"""The OpenID Foundation's Basic OP certification plan, one test per module, named after it.

Each test asserts the outcome its module expects (conformance-suite, net.openid.conformance
.openid.OIDCC*), so that a certification run against this provider passes.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support import RelyingParty, make_client, query, update_client

# Happy flows ------------------------------------------------------------------------------


def test_oidcc_server(suite):
    """Code flow, client_secret_basic: a valid ID token and a userinfo response with its sub."""
    exchange = suite.code_flow()
    assert suite.userinfo(exchange.tokens["access_token"])["sub"] == exchange.claims["sub"]


def test_oidcc_server_client_secret_post(suite):
    """The same flow with the client authenticating in the token request body."""
    update_client(suite.app, "rp", token_endpoint_auth_method="client_secret_post")
    flow = suite.flow()
    flow.start(pkce=False)
    params = flow.complete(suite.totp_secret)
    response = suite.rp.token_request(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": suite.rp.redirect_uri,
        },
        auth="post",
    )
    assert response.status_code == 200
    claims = suite.rp.verify_id_token(response.get_json()["id_token"])
    assert suite.userinfo(response.get_json()["access_token"])["sub"] == claims["sub"]


def test_oidcc_idtoken_signature(suite):
    """The ID token is signed with an advertised alg (never `none`) by a key in the JWKS."""
    exchange = suite.code_flow()
    discovery = suite.browser.get("/.well-known/openid-configuration").get_json()
    jwks = suite.browser.get("/jwks.json").get_json()
    token = jwt.decode(
        exchange.tokens["id_token"],
        KeySet.import_key_set(jwks),
        algorithms=discovery["id_token_signing_alg_values_supported"],
    )
    assert token.header["alg"] in discovery["id_token_signing_alg_values_supported"]
    assert token.header["alg"] != "none"
    assert token.header["kid"] in {key["kid"] for key in jwks["keys"]}


def test_oidcc_userinfo_get(suite):
    exchange = suite.code_flow()
    response = suite.browser.get(
        "/userinfo", headers={"Authorization": f"Bearer {exchange.tokens['access_token']}"}
    )
    assert response.status_code == 200
    assert response.get_json()["sub"] == exchange.claims["sub"]


def test_oidcc_userinfo_post_header(suite):
    exchange = suite.code_flow()
    response = suite.browser.post(
        "/userinfo", headers={"Authorization": f"Bearer {exchange.tokens['access_token']}"}
    )
    assert response.status_code == 200
    assert response.get_json()["sub"] == exchange.claims["sub"]


def test_oidcc_userinfo_post_body(suite):
    exchange = suite.code_flow()
    response = suite.browser.post(
        "/userinfo", data={"access_token": exchange.tokens["access_token"]}
    )
    assert response.status_code == 200
    assert response.get_json()["sub"] == exchange.claims["sub"]


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(suite):
    """nonce is optional for response_type=code (OIDC Core 3.1.2.1)."""
    exchange = suite.code_flow(nonce=None)
    assert "nonce" not in exchange.claims


def test_oidcc_scope_profile(suite):
    exchange = suite.code_flow(scope="openid profile")
    info = suite.userinfo(exchange.tokens["access_token"])
    assert info["name"] == "Ada Lovelace"
    assert info["given_name"] == "Ada" and info["family_name"] == "Lovelace"
    assert "email" not in info


def test_oidcc_scope_email(suite):
    exchange = suite.code_flow(scope="openid email")
    info = suite.userinfo(exchange.tokens["access_token"])
    assert info["email"] == "ada@example.com"
    assert info["email_verified"] is True
    assert "name" not in info


def test_oidcc_scope_all(suite):
    """All standard scopes; those not supported (address, phone) are left out, not an error."""
    exchange = suite.code_flow(scope="openid profile email address phone")
    granted = set(exchange.tokens["scope"].split())
    assert {"openid", "profile", "email"} <= granted
    assert not granted & {"address", "phone"}
    info = suite.userinfo(exchange.tokens["access_token"])
    assert info["name"] == "Ada Lovelace" and info["email"] == "ada@example.com"


def test_oidcc_alternate_happy_flow(suite):
    """Scope order reversed and parameters reordered (RFC 6749 3.3): order does not matter."""
    rp = suite.rp
    params = {
        "state": rp.state,
        "scope": "email openid",
        "nonce": rp.nonce,
        "redirect_uri": rp.redirect_uri,
        "client_id": rp.client_id,
        "response_type": "code",
    }
    flow = suite.flow()
    flow.location = suite.browser.get("/authorize?" + urlencode(params)).location
    exchange = suite.redeem(flow.complete(suite.totp_secret))
    assert suite.userinfo(exchange.tokens["access_token"])["email"] == "ada@example.com"


def test_oidcc_display_page(suite):
    exchange = suite.code_flow(display="page")
    assert exchange.claims["sub"]


def test_oidcc_display_popup(suite):
    exchange = suite.code_flow(display="popup")
    assert exchange.claims["sub"]


def test_oidcc_ensure_request_with_unknown_parameter_succeeds(suite):
    """Unrecognised parameters are ignored (OIDC Core 3.1.2.1)."""
    exchange = suite.code_flow(extra_param="foobar", **{"x-vendor": "1"})
    assert exchange.claims["sub"]


def test_oidcc_ui_locales(suite):
    exchange = suite.code_flow(ui_locales="se")
    assert exchange.claims["sub"]


def test_oidcc_claims_locales(suite):
    exchange = suite.code_flow(claims_locales="se")
    assert suite.userinfo(exchange.tokens["access_token"])["sub"] == exchange.claims["sub"]


def test_oidcc_ensure_request_with_acr_values_succeeds(suite):
    """acr_values are voluntary claims: unknown values do not fail the request."""
    exchange = suite.code_flow(acr_values="1 2")
    assert exchange.claims["acr"]


def test_oidcc_ensure_post_request_succeeds(suite):
    """The authorization request sent as a form POST (OIDC Core 3.1.2.1)."""
    flow = suite.flow()
    data = query(suite.rp.authorize_url(pkce=False))
    flow.location = suite.browser.post("/authorize", data=data).location
    exchange = suite.redeem(flow.complete(suite.totp_secret))
    assert exchange.claims["sub"]


def test_oidcc_claims_essential(suite):
    """name asked for as essential in userinfo with scope=openid only: the request succeeds.

    The suite's EnsureUserInfoContainsName is a WARNING: OIDC Core 5.5.1 lets the OP leave a
    requested claim out, and ours does when no granted scope covers it (claims follow consent).
    """
    claims = json.dumps({"userinfo": {"name": {"essential": True}}})
    exchange = suite.code_flow(scope="openid", claims=claims)
    assert "name" not in suite.userinfo(exchange.tokens["access_token"])
    assert "name" not in exchange.claims

    with_profile = suite.code_flow(scope="openid profile", claims=claims)
    assert suite.userinfo(with_profile.tokens["access_token"])["name"] == "Ada Lovelace"


def test_oidcc_ensure_request_with_valid_pkce_succeeds(suite):
    exchange = suite.code_flow(pkce=True)
    assert exchange.claims["sub"]


# Sessions: prompt, max_age, hints -------------------------------------------------------


def test_oidcc_prompt_login(suite):
    """A second request with prompt=login shows the sign-in again; auth_time moves on."""
    first = suite.code_flow()
    suite.clock.advance(seconds=30)  # the next TOTP code: each is accepted once
    flow = suite.flow()
    flow.start(pkce=False, prompt="login")
    assert flow.location.startswith("/signin?rid=")  # the login page, again
    second = suite.redeem(flow.complete(suite.totp_secret))
    assert second.claims["sub"] == first.claims["sub"]
    assert second.claims["auth_time"] > first.claims["auth_time"]


def test_oidcc_prompt_none_not_logged_in(suite):
    params = suite.error_at_rp(suite.authorize(prompt="none"))
    assert params["error"] in (
        "login_required",
        "interaction_required",
        "session_selection_required",
        "consent_required",
    )


def test_oidcc_prompt_none_logged_in(suite):
    first = suite.code_flow()
    location = suite.authorize(prompt="none")
    second = suite.redeem(query(location))
    assert second.claims["sub"] == first.claims["sub"]
    assert second.claims["auth_time"] == first.claims["auth_time"]


def test_oidcc_max_age_1(suite):
    """After more than a second, max_age=1 makes the user sign in again."""
    first = suite.code_flow()
    suite.clock.advance(seconds=30)  # the next TOTP code: each is accepted once
    flow = suite.flow()
    flow.start(pkce=False, max_age="1")
    assert flow.location.startswith("/signin?rid=")
    second = suite.redeem(flow.complete(suite.totp_secret))
    assert second.claims["auth_time"] > first.claims["auth_time"]


def test_oidcc_max_age_10000(suite):
    """A recent sign-in satisfies max_age=10000: no page, same auth_time."""
    first = suite.code_flow()
    suite.clock.advance(seconds=2)
    location = suite.authorize(max_age="10000")
    second = suite.redeem(query(location))
    assert second.claims["auth_time"] == first.claims["auth_time"]
    assert second.claims["sub"] == first.claims["sub"]


def test_oidcc_id_token_hint(suite):
    """prompt=none with the first ID token as hint answers at once, for the same user."""
    first = suite.code_flow()
    location = suite.authorize(prompt="none", id_token_hint=first.tokens["id_token"])
    second = suite.redeem(query(location))
    assert second.claims["sub"] == first.claims["sub"]
    assert second.claims["auth_time"] == first.claims["auth_time"]


def test_oidcc_login_hint(suite):
    """The sign-in page uses the hint."""
    location = suite.authorize(login_hint="ada@example.com")
    page = suite.browser.get(location)
    assert page.status_code == 200
    assert 'value="ada@example.com"' in page.text


# Codes, redirect URIs, refresh tokens ------------------------------------------------------


def test_oidcc_codereuse(suite):
    """A code used twice: invalid_grant (400, JSON), and the first access token is revoked."""
    flow = suite.flow()
    flow.start(pkce=False)
    params = flow.complete(suite.totp_secret)
    exchange = suite.redeem(params)

    again = suite.rp.redeem(params["code"], code_verifier=None)

    assert again.status_code == 400
    assert again.mimetype == "application/json"
    assert again.get_json()["error"] == "invalid_grant"
    assert suite.rp.userinfo(exchange.tokens["access_token"]).status_code == 401


def test_oidcc_codereuse_30seconds(suite):
    flow = suite.flow()
    flow.start(pkce=False)
    params = flow.complete(suite.totp_secret)
    exchange = suite.redeem(params)
    suite.clock.advance(seconds=30)

    again = suite.rp.redeem(params["code"], code_verifier=None)

    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_grant"
    assert suite.rp.userinfo(exchange.tokens["access_token"]).status_code == 401


def test_oidcc_ensure_registered_redirect_uri(suite):
    """An unregistered redirect_uri: an error page, never a redirect."""
    response = suite.browser.get(
        suite.rp.authorize_url(pkce=False, redirect_uri="https://rp.example/not-registered")
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "return address" in response.text


def test_oidcc_response_type_missing(suite):
    """Without response_type: an error page, or invalid_request/unsupported_response_type."""
    response = suite.browser.get(suite.rp.authorize_url(pkce=False, response_type=None))
    if response.status_code == 302:
        error = suite.error_at_rp(response.location)["error"]
        assert error in ("invalid_request", "unsupported_response_type")
    else:
        assert response.status_code == 400


def test_oidcc_refresh_token(suite):
    """Refresh works, rotates, and a refresh token is bound to the client it was issued to."""
    first = suite.code_flow(scope="openid offline_access", prompt="consent")
    refresh_token = first.tokens["refresh_token"]
    assert all(33 <= ord(c) <= 126 for c in refresh_token)  # RFC 6749 A.17

    _, other_secret = make_client(suite.app, "rp2")
    other = RelyingParty(suite.browser, "rp2", secret=other_secret)
    stolen = other.refresh(refresh_token)
    assert stolen.status_code == 400
    assert stolen.get_json()["error"] == "invalid_grant"

    response = suite.rp.refresh(refresh_token)
    assert response.status_code == 200
    renewed = response.get_json()
    assert renewed["refresh_token"] != refresh_token  # rotation, as designed
    assert suite.userinfo(renewed["access_token"])["sub"] == first.claims["sub"]
