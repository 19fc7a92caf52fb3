"""RFC 9068: a client registered for JWT access tokens gets signed ones (at+jwt), verified
without the tokens table; revocation still reaches them through their jti."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select

from idp.clock import epoch, now
from idp.extensions import db
from idp.models.revoked_access_token import RevokedAccessToken
from idp.models.token import Token
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    csrf_of,
    disable_user,
    enroll_totp,
    make_client,
    make_user,
    update_client,
)

OFFLINE = "openid profile email offline_access"
NEW_PASSWORD = "quiet-lantern-harbor-58"


def decoded(browser, value: str) -> jwt.Token:
    """Verified with the published JWKS, as a resource server would."""
    jwks = KeySet.import_key_set(browser.get("/jwks.json").get_json())
    return jwt.decode(value, jwks, algorithms=["ES256", "RS256"])


def token_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Token)) or 0


@pytest.fixture
def machine(app, client):
    """A confidential jwt client that uses client_credentials."""
    _, secret = make_client(app, "svc", access_token_format="jwt", scopes=["profile"])
    return RelyingParty(client, client_id="svc", secret=secret)


@pytest.fixture
def ada(app, client):
    """Ada signed in at a jwt client (MFA), which holds her access and refresh tokens."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app, access_token_format="jwt")
    rp = RelyingParty(client, secret=client_secret)
    exchange = SignInFlow(client, rp).authorize_and_exchange(secret, scope=OFFLINE)
    return {"user": user, "rp": rp, "tokens": exchange.tokens, "claims": exchange.claims}


def credentials(rp: RelyingParty) -> dict:
    response = rp.token_request({"grant_type": "client_credentials", "scope": "profile"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def assert_dead(rp: RelyingParty, access_token: str) -> None:
    assert rp.userinfo(access_token).status_code == 401, "access token survived"
    assert rp.introspect(access_token).get_json() == {"active": False}


def test_client_credentials_gives_a_signed_at_jwt_and_writes_no_row(app, client, machine):
    tokens = credentials(machine)
    token = decoded(client, tokens["access_token"])
    with app.app_context():
        at = epoch(now())
    assert token.header["typ"] == "at+jwt" and token.header["alg"] == "ES256"
    claims = token.claims
    assert claims["iss"] == "http://localhost"
    assert claims["aud"] == claims["client_id"] == claims["sub"] == "svc"
    assert claims["scope"] == "profile" and claims["jti"]
    assert at - 5 <= claims["iat"] <= at
    assert claims["exp"] - claims["iat"] == 300 == tokens["expires_in"]
    assert "auth_time" not in claims
    assert token_rows(app) == 0


def test_introspection_verifies_a_client_credentials_jwt_and_revoke_kills_it(app, client, machine):
    value = credentials(machine)["access_token"]
    claims = decoded(client, value).claims
    answer = machine.introspect(value).get_json()
    assert answer["active"] is True and answer["token_type"] == "Bearer"
    assert {k: answer[k] for k in ("iss", "sub", "aud", "exp", "iat", "jti", "client_id")} == {
        k: claims[k] for k in ("iss", "sub", "aud", "exp", "iat", "jti", "client_id")
    }
    assert machine.revoke(value).status_code == 200
    assert machine.introspect(value).get_json() == {"active": False}
    with app.app_context():
        listed = db.session.get(RevokedAccessToken, claims["jti"])
        assert listed is not None and epoch(listed.expires_at) == claims["exp"]
    assert token_rows(app) == 0


def test_another_client_cannot_introspect_or_revoke_it(app, client, machine):
    value = credentials(machine)["access_token"]
    _, secret = make_client(app, "other")
    other = RelyingParty(client, client_id="other", secret=secret)
    assert other.introspect(value).get_json() == {"active": False}
    other.revoke(value)
    assert machine.introspect(value).get_json()["active"] is True


def test_a_signed_in_users_jwt_carries_the_sign_in_and_works_at_userinfo(client, ada):
    value = ada["tokens"]["access_token"]
    claims = decoded(client, value).claims
    assert claims["sub"] == ada["claims"]["sub"] and claims["aud"] == "rp"
    assert claims["client_id"] == "rp" and claims["scope"] == OFFLINE
    assert claims["auth_time"] == ada["claims"]["auth_time"]
    assert claims["acr"] == ada["claims"]["acr"] and claims["amr"] == ada["claims"]["amr"]
    assert ada["tokens"]["expires_in"] == 300
    info = ada["rp"].userinfo(value)
    assert info.status_code == 200
    assert info.get_json()["sub"] == claims["sub"]
    assert info.get_json()["email"] == "ada@example.com"
    answer = ada["rp"].introspect(value).get_json()
    assert answer["active"] is True and answer["username"] == "ada@example.com"
    assert answer["sub"] == claims["sub"] and answer["amr"] == claims["amr"]


def test_a_refreshed_jwt_keeps_the_sign_in_and_the_refresh_token_stays_opaque(client, ada):
    refresh = ada["tokens"]["refresh_token"]
    assert refresh.count(".") == 0
    renewed = ada["rp"].refresh(refresh).get_json()
    claims = decoded(client, renewed["access_token"]).claims
    first = decoded(client, ada["tokens"]["access_token"]).claims
    assert claims["jti"] != first["jti"]
    assert (claims["auth_time"], claims["amr"]) == (first["auth_time"], first["amr"])
    assert (claims["sub"], claims.get("acr"), claims["scope"]) == (
        first["sub"],
        first.get("acr"),
        first["scope"],
    )
    assert ada["rp"].userinfo(renewed["access_token"]).status_code == 200


def test_revoke_makes_userinfo_401_and_introspection_inactive(ada):
    value = ada["tokens"]["access_token"]
    assert ada["rp"].revoke(value).status_code == 200
    assert_dead(ada["rp"], value)
    # As for opaque tokens, the pair issued together goes (RFC 7009 2.1 allows it).
    assert ada["rp"].refresh(ada["tokens"]["refresh_token"]).status_code == 400


def test_revoking_the_refresh_token_kills_the_jwt_of_its_grant(ada):
    assert ada["rp"].revoke(ada["tokens"]["refresh_token"]).status_code == 200
    assert_dead(ada["rp"], ada["tokens"]["access_token"])


def test_sign_out_everywhere_kills_the_jwt(client, ada):
    page = client.get("/account/security")
    out = client.post("/account/sign-out-everywhere", data={"csrf_token": csrf_of(page)})
    assert out.status_code == 302
    assert_dead(ada["rp"], ada["tokens"]["access_token"])


def test_a_password_change_kills_the_jwt(client, ada):
    page = client.get("/account/security")
    changed = client.post(
        "/account/password",
        data={"csrf_token": csrf_of(page), "current": PASSWORD, "new": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert_dead(ada["rp"], ada["tokens"]["access_token"])


def test_a_disabled_user_makes_the_jwt_unusable(app, ada):
    disable_user(app, ada["user"].id)
    assert_dead(ada["rp"], ada["tokens"]["access_token"])


def test_a_disabled_client_makes_its_jwts_unusable(app, ada):
    update_client(app, "rp", disabled=True)
    assert ada["rp"].userinfo(ada["tokens"]["access_token"]).status_code == 401


def test_expiry_is_respected_on_the_apps_clock(app, client, ada, machine, clock):
    value = credentials(machine)["access_token"]
    user_exp = decoded(client, ada["tokens"]["access_token"]).claims["exp"]
    machine_exp = decoded(client, value).claims["exp"]
    with app.app_context():
        at = epoch(now())
    clock.advance(seconds=min(user_exp, machine_exp) - at - 2)
    assert ada["rp"].userinfo(ada["tokens"]["access_token"]).status_code == 200
    assert machine.introspect(value).get_json()["active"] is True
    clock.advance(seconds=max(user_exp, machine_exp) - min(user_exp, machine_exp) + 3)
    assert_dead(ada["rp"], ada["tokens"]["access_token"])
    assert machine.introspect(value).get_json() == {"active": False}


@pytest.mark.parametrize("overrides", [{"jwt_access_token_ttl_seconds": 60}])
def test_the_lifetime_is_a_setting(client, machine):
    tokens = credentials(machine)
    claims = decoded(client, tokens["access_token"]).claims
    assert tokens["expires_in"] == 60 == claims["exp"] - claims["iat"]


def test_an_id_token_or_a_tampered_token_is_not_an_access_token(ada):
    rp = ada["rp"]
    id_token = ada["tokens"]["id_token"]
    assert rp.userinfo(id_token).status_code == 401, "typ JWT, not at+jwt"
    assert rp.introspect(id_token).get_json() == {"active": False}
    header, payload, signature = ada["tokens"]["access_token"].split(".")
    forged = ".".join([header, payload[:-4] + "AAAA", signature])
    assert rp.userinfo(forged).status_code == 401
    assert rp.userinfo("a.b.c").status_code == 401


def test_an_opaque_client_is_unchanged(app, client):
    _, secret = make_client(app, "classic", scopes=["profile"])
    rp = RelyingParty(client, client_id="classic", secret=secret)
    tokens = credentials(rp)
    assert tokens["access_token"].isalnum() and len(tokens["access_token"]) == 42
    assert tokens["expires_in"] == 3600
    assert token_rows(app) == 1
    with app.app_context():
        row = db.session.scalar(select(Token))
        assert row is not None and row.jti is None
    assert rp.introspect(tokens["access_token"]).get_json()["active"] is True


def test_prune_forgets_a_revoked_jti_once_its_token_expired(app, machine, clock):
    value = credentials(machine)["access_token"]
    machine.revoke(value)
    runner = app.test_cli_runner()
    assert "revoked_access_tokens: 0" in runner.invoke(args=["prune"]).output
    clock.advance(seconds=301)
    assert "revoked_access_tokens: 1" in runner.invoke(args=["prune"]).output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RevokedAccessToken)) == 0
