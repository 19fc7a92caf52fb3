"""Claims follow consent: the `claims` parameter (OIDC Core 5.5) never passes the granted scope."""

from __future__ import annotations

import json
import re

import pytest

from tests.support import RelyingParty, SignInFlow, enroll_totp, make_client, make_user, query

# Everything a user could be described by, asked for in both places.
GREEDY = json.dumps(
    {
        "userinfo": {n: None for n in ("name", "family_name", "email", "email_verified", "roles")},
        "id_token": {n: None for n in ("name", "family_name", "email", "email_verified", "roles")},
    }
)
PROFILE_AND_ROLES = {"name", "given_name", "family_name", "locale", "updated_at", "roles"}


@pytest.fixture
def totp_secret(app):
    """A user with roles (something to leak) and an authenticator app."""
    user = make_user(app, roles=["agent"])
    return enroll_totp(app, user.id)


@pytest.fixture
def rp(app, client, totp_secret):
    """A third-party client (consent is asked) allowed only `openid email`."""
    _, secret = make_client(app, first_party=False, scopes=["openid", "email"])
    return RelyingParty(client, secret=secret)


def consent_items(page) -> set[str]:
    """The scopes the consent page says will be shared."""
    return set(re.findall(r'data-scope="([^"]+)"', page.text))


def sign_in_until_consent(client, rp, secret, **extra):
    """Sign in and stop at the consent page; returns (flow, page)."""
    flow = SignInFlow(client, rp)
    flow.start(**extra)
    for _ in range(8):
        if flow.location.startswith("/consent/"):
            return flow, client.get(flow.location)
        if flow.location.startswith("/signin/verify"):
            flow.totp(secret)
        elif flow.location.startswith("/signin"):
            flow.password()
        else:
            flow.follow()
    raise AssertionError(f"no consent page; stopped at {flow.location}")


def redeem(rp, params):
    """ID token claims, userinfo and the granted scope for an authorization response."""
    assert "code" in params, params
    tokens = rp.redeem(params["code"]).get_json()
    id_token = rp.verify_id_token(tokens["id_token"])
    info = rp.userinfo(tokens["access_token"]).get_json()
    return id_token, info, tokens["scope"]


def test_claims_beyond_the_granted_scope_are_not_released(client, rp, totp_secret):
    flow, page = sign_in_until_consent(client, rp, totp_secret, scope="openid", claims=GREEDY)
    assert consent_items(page) == {"openid"}
    flow.consent()

    id_token, info, scope = redeem(rp, flow.until_rp())

    assert scope == "openid"
    assert info == {"sub": id_token["sub"]}
    leaked = {"email", "email_verified"} | PROFILE_AND_ROLES
    assert not leaked & id_token.keys()


def test_nor_under_prompt_none(client, rp, totp_secret):
    flow, _ = sign_in_until_consent(client, rp, totp_secret, scope="openid")
    flow.consent()
    flow.until_rp()

    silent = client.get(rp.authorize_url(prompt="none", scope="openid", claims=GREEDY))
    id_token, info, _ = redeem(rp, query(silent.headers["Location"]))

    assert info == {"sub": id_token["sub"]}
    assert not ({"email", "email_verified"} | PROFILE_AND_ROLES) & id_token.keys()


def test_a_claim_a_granted_scope_covers_is_released(client, rp, totp_secret):
    claims = json.dumps(
        {
            "userinfo": {"email_verified": None, "name": None},
            "id_token": {"email_verified": {"essential": True}, "roles": None},
        }
    )
    flow, page = sign_in_until_consent(client, rp, totp_secret, scope="openid email", claims=claims)
    assert consent_items(page) == {"openid", "email"}
    assert "Your email address" in page.text
    flow.consent()

    id_token, info, _ = redeem(rp, flow.until_rp())

    assert info == {"sub": id_token["sub"], "email": "ada@example.com", "email_verified": True}
    assert id_token["email_verified"] is True
    assert not PROFILE_AND_ROLES & id_token.keys()

    silent = client.get(rp.authorize_url(prompt="none", scope="openid email", claims=claims))
    id_token, info, _ = redeem(rp, query(silent.headers["Location"]))
    assert info["email_verified"] is True and "name" not in info
    assert id_token["email_verified"] is True and "roles" not in id_token


def test_scopes_the_client_may_not_have_are_neither_asked_nor_granted(client, rp, totp_secret):
    flow, page = sign_in_until_consent(
        client, rp, totp_secret, scope="openid profile email roles", claims=GREEDY
    )
    # The page lists exactly what the code will carry.
    assert consent_items(page) == {"openid", "email"}
    assert "Your name" not in page.text and "roles" not in page.text.lower()
    flow.consent()

    id_token, info, scope = redeem(rp, flow.until_rp())

    assert scope == "openid email"
    assert set(info) == {"sub", "email", "email_verified"}
    assert not PROFILE_AND_ROLES & id_token.keys()


def test_discovery_still_supports_the_claims_parameter(client):
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["claims_parameter_supported"] is True
