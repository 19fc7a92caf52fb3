"""The code flow with PKCE as a real RP runs it: Authlib's OAuth2Session against a live server."""

from __future__ import annotations

import base64
import hashlib

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support import (
    REDIRECT_URI,
    LiveBrowser,
    RelyingParty,
    SignInFlow,
    enroll_totp,
    make_client,
    make_user,
    query,
)

SCOPE = "openid profile email offline_access"


def discover(base: str) -> dict:
    """What any RP does first (OIDC Discovery 1.0 section 4)."""
    response = requests.get(f"{base}/.well-known/openid-configuration", timeout=5)
    assert response.status_code == 200
    return response.json()


def verify_id_token(token: str, *, meta: dict, client_id: str, nonce: str) -> dict:
    """OIDC Core 3.1.3.7, done the way an RP does it: signature against the published JWKS."""
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
    decoded = jwt.decode(token, keys, algorithms=meta["id_token_signing_alg_values_supported"])
    assert decoded.header["kid"] in {k.kid for k in keys}
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": meta["issuer"]},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        auth_time={"essential": True},
        nonce={"essential": True, "value": nonce},
    ).validate(decoded.claims)
    return {"header": decoded.header, **decoded.claims}


def half_hash(value: str) -> str:
    """at_hash for RS256/ES256 (OIDC Core 3.1.3.6): left half of SHA-256, base64url."""
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def test_confidential_rp_signs_a_user_in_with_pkce_and_verifies_the_id_token(live_server):
    app, base = live_server.app, live_server.url
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    client_id, client_secret = make_client(app)
    meta = discover(base)
    assert meta["issuer"] == base

    rp = OAuth2Session(
        client_id,
        client_secret,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    rp.trust_env = False
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    assert "code_challenge=" in url and "code_challenge_method=S256" in url

    callback = LiveBrowser(app).through(url, until=REDIRECT_URI, secret=secret)
    params = query(callback)
    assert params["state"] == state
    assert params["iss"] == base  # RFC 9207: the RP can tell which issuer answered

    token = rp.fetch_token(
        meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == set(SCOPE.split())
    assert token["refresh_token"]

    claims = verify_id_token(token["id_token"], meta=meta, client_id=client_id, nonce=nonce)
    assert claims["header"]["alg"] == "RS256"
    assert claims["azp"] == client_id
    assert claims["at_hash"] == half_hash(token["access_token"])
    assert claims["amr"] == ["pwd", "otp", "totp", "mfa"]
    assert claims["acr"] == "urn:idp:acr:mfa"
    assert claims["sid"]
    assert claims["sub"] != str(user.id)  # random and stable, never the row id
    assert claims["exp"] > claims["iat"] >= claims["auth_time"]

    info = rp.get(meta["userinfo_endpoint"], timeout=5).json()
    assert info["sub"] == claims["sub"]
    assert info["email"] == "ada@example.com" and info["name"] == "Ada Lovelace"

    renewed = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert renewed["access_token"] != token["access_token"]
    assert renewed["refresh_token"] != token["refresh_token"]
    assert rp.get(meta["userinfo_endpoint"], timeout=5).json()["sub"] == claims["sub"]


def test_public_rp_uses_pkce_and_no_secret(live_server):
    app, base = live_server.app, live_server.url
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    client_id, _ = make_client(app, "spa", public=True)
    meta = discover(base)
    rp = OAuth2Session(
        client_id,
        scope="openid email",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    rp.trust_env = False
    verifier, nonce = generate_token(48), generate_token(20)
    url, _ = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback = LiveBrowser(app).through(url, until=REDIRECT_URI, secret=secret)

    token = rp.fetch_token(
        meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    claims = verify_id_token(token["id_token"], meta=meta, client_id=client_id, nonce=nonce)
    assert claims["email"] == "ada@example.com"
    assert "refresh_token" not in token  # no offline_access asked (OIDC Core 11)


def test_a_public_client_must_prove_the_verifier(live_server):
    app, base = live_server.app, live_server.url
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    client_id, _ = make_client(app, "spa", public=True)
    meta = discover(base)
    rp = OAuth2Session(
        client_id,
        scope="openid",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    rp.trust_env = False
    url, _ = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=generate_token(48)
    )
    callback = LiveBrowser(app).through(url, until=REDIRECT_URI, secret=secret)

    wrong = requests.post(
        meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": query(callback)["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": generate_token(48),
        },
        timeout=5,
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"


def test_es256_for_a_client_that_registered_it(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app, "es", id_token_signed_response_alg="ES256")
    rp = RelyingParty(client, "es", secret=client_secret)

    exchange = SignInFlow(client, rp).authorize_and_exchange(secret)

    header = jwt.decode(
        exchange.tokens["id_token"],
        KeySet.import_key_set(client.get("/jwks.json").get_json()),
        algorithms=["ES256"],
    ).header
    assert header["alg"] == "ES256"
    jwks = client.get("/jwks.json").get_json()["keys"]
    assert any(k["kid"] == header["kid"] and k["kty"] == "EC" for k in jwks)


def test_the_same_user_gets_the_same_sub_every_time(app, client, clock):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    first = SignInFlow(client, rp).authorize_and_exchange(secret)

    clock.advance(seconds=30)
    other_browser = client.application.test_client()
    second = SignInFlow(other_browser, RelyingParty(other_browser, secret=client_secret))
    again = second.authorize_and_exchange(secret)

    assert again.claims["sub"] == first.claims["sub"]
    assert again.claims["sid"] != first.claims["sid"]  # a new browser session
