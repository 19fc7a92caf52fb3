"""oidcc-discovery-endpoint-verification, against a provider with a production-like https issuer."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata

ISSUER = "https://login.example"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # RFC 6749 3.3 scope-token
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")  # BCP 47, simplified


@pytest.fixture
def overrides():
    return {"issuer": ISSUER}


def test_oidcc_discovery_endpoint_verification(client):
    response = client.get("/.well-known/openid-configuration", base_url=ISSUER)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = response.get_json()

    # The issuer is exactly the URL the document was fetched under, minus the well-known path.
    assert doc["issuer"] == ISSUER
    OpenIDProviderMetadata(doc).validate()  # OIDC Discovery 3 and RFC 8414 2

    assert "code" in doc["response_types_supported"]
    assert "authorization_code" in doc["grant_types_supported"]
    assert set(doc["subject_types_supported"]) <= {"public", "pairwise"}
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert "none" not in doc["id_token_signing_alg_values_supported"]
    assert "openid" in doc["scopes_supported"]
    assert all(SCOPE_TOKEN.match(scope) for scope in doc["scopes_supported"])
    assert {"sub", "iss", "aud", "exp", "iat"} <= set(doc["claims_supported"])
    assert isinstance(doc["claims_parameter_supported"], bool)
    assert doc["request_parameter_supported"] is False
    assert doc["request_uri_parameter_supported"] is False
    assert isinstance(doc["code_challenge_methods_supported"], list)
    for key in ("ui_locales_supported", "claims_locales_supported"):
        assert all(LANGUAGE_TAG.match(tag) for tag in doc.get(key, []))

    endpoints = {key: value for key, value in doc.items() if key.endswith(("_endpoint", "_uri"))}
    assert {"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"} <= set(
        endpoints
    )
    for key, url in endpoints.items():
        assert url.startswith(ISSUER + "/"), (key, url)  # every endpoint is https, ours
        assert client.get(urlsplit(url).path, base_url=ISSUER).status_code != 404, key

    jwks = client.get(urlsplit(doc["jwks_uri"]).path, base_url=ISSUER).get_json()
    assert jwks["keys"]
    for key in jwks["keys"]:
        assert key["kid"] and key["kty"] in ("RSA", "EC")
        assert not PRIVATE_MEMBERS & set(key), key["kid"]
    assert len({key["kid"] for key in jwks["keys"]}) == len(jwks["keys"])
