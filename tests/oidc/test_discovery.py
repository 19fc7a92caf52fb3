"""Discovery and JWKS: accurate to what the provider does, cacheable, readable from browsers."""

from __future__ import annotations

from joserfc.jwk import KeySet


def test_discovery_names_this_issuer_and_its_endpoints(client):
    response = client.get("/.well-known/openid-configuration")
    doc = response.get_json()

    assert doc["issuer"] == "http://localhost"
    assert doc["authorization_endpoint"] == "http://localhost/authorize"
    assert doc["token_endpoint"] == "http://localhost/token"
    assert doc["userinfo_endpoint"] == "http://localhost/userinfo"
    assert doc["jwks_uri"] == "http://localhost/jwks.json"
    assert doc["revocation_endpoint"] == "http://localhost/revoke"
    assert doc["introspection_endpoint"] == "http://localhost/introspect"
    assert doc["end_session_endpoint"] == "http://localhost/logout"


def test_discovery_describes_what_is_implemented(client):
    doc = client.get("/.well-known/openid-configuration").get_json()

    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert set(doc["scopes_supported"]) >= {"openid", "profile", "email", "offline_access"}
    assert set(doc["prompt_values_supported"]) == {"none", "login", "consent"}
    assert doc["request_parameter_supported"] is False
    assert doc["request_uri_parameter_supported"] is False
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["acr_values_supported"] == [
        "urn:idp:acr:remembered",
        "urn:idp:acr:mfa",
        "urn:idp:acr:phr",
    ]
    assert {"amr", "acr", "auth_time", "sid"} <= set(doc["claims_supported"])


def test_the_algorithms_advertised_have_keys_in_the_jwks(client):
    doc = client.get("/.well-known/openid-configuration").get_json()
    jwks = client.get("/jwks.json").get_json()

    assert set(doc["id_token_signing_alg_values_supported"]) == {"RS256", "ES256"}
    algs = {key.get("alg") for key in jwks["keys"]}
    assert {"RS256", "ES256"} <= algs
    KeySet.import_key_set(jwks)  # well-formed


def test_jwks_holds_only_public_keys(client):
    for key in client.get("/jwks.json").get_json()["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
        assert key["use"] == "sig"
        assert key["kid"]


def test_discovery_and_jwks_are_cacheable_and_cors_readable(client):
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert "max-age=" in response.headers["Cache-Control"]
        assert "public" in response.headers["Cache-Control"]
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_discovery_and_jwks_answer_304_to_their_etag(client):
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        first = client.get(path)
        etag = first.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.data == b""
        assert again.headers["ETag"] == etag
        assert "max-age=" in again.headers["Cache-Control"]
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        assert "Set-Cookie" not in first.headers


def test_discovery_and_jwks_are_traced_like_every_request(app, client, caplog):
    """Answered before Flask, they still carry the security headers and the request id, and
    are logged and timed under their endpoint names."""
    import logging

    from prometheus_client.parser import text_string_to_metric_families

    caplog.set_level(logging.INFO, logger="idp.request")
    metrics = app.extensions["idp.metrics"]
    for path, endpoint in (
        ("/.well-known/openid-configuration", "provider.discovery"),
        ("/jwks.json", "provider.jwks"),
    ):
        response = client.get(path, headers={"X-Request-ID": "rp-42"})
        assert response.headers["X-Request-ID"] == "rp-42"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert int(response.headers["Content-Length"]) == len(response.data)
        logged = [r.fields for r in caplog.records if getattr(r, "fields", None)]
        assert logged[-1]["endpoint"] == endpoint
        assert logged[-1]["request_id"] == "rp-42"
        assert logged[-1]["status"] == 200
        counts = {
            sample.labels["endpoint"]: sample.value
            for family in text_string_to_metric_families(metrics.exposition().decode())
            for sample in family.samples
            if sample.name == "idp_request_duration_seconds_count"
        }
        assert counts[endpoint] >= 1


def test_discovery_and_jwks_refuse_other_methods_as_before(client):
    assert client.post("/jwks.json").status_code == 405
    head = client.head("/.well-known/openid-configuration")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["ETag"] == client.get("/.well-known/openid-configuration").headers["ETag"]


def test_discovery_and_jwks_carry_the_headers_flasks_own_views_give(app, client):
    """The layer before Flask and Flask's views (what it hands on) answer with the same headers:
    one definition of the security headers, not two that drift (its CSP once did)."""
    from werkzeug.test import Client

    flask_views = Client(app.extensions["idp.protocol_shortcut"].inner)
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        before_flask = client.get(path)
        from_flask = flask_views.get(path)
        assert before_flask.data == from_flask.data
        assert {k: v for k, v in before_flask.headers.items() if k != "X-Request-ID"} == {
            k: v for k, v in from_flask.headers.items() if k != "X-Request-ID"
        }
