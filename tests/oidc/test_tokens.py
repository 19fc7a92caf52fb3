"""The token endpoint: codes are single-use and short-lived, refresh tokens rotate, clients prove
who they are; and RFC 7009 revocation and RFC 7662 introspection of what it issued."""

from __future__ import annotations

import base64
import hashlib

import pytest

from idp.extensions import db
from idp.models.token import Token
from idp.models.user import User
from tests.support import (
    RelyingParty,
    SignInFlow,
    disable_user,
    enroll_totp,
    make_client,
    make_user,
    query,
    update_client,
)

OFFLINE = "openid profile email offline_access"


def signed_in_rp(app, client, **extra):
    """A confidential RP whose user has just signed in; returns (rp, exchange)."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    exchange = SignInFlow(client, rp).authorize_and_exchange(secret, **extra)
    return rp, exchange


def fresh_code(client, rp, **extra) -> str:
    """Another code from the signed-in browser (single sign-on, no pages)."""
    response = client.get(rp.authorize_url(**extra))
    params = query(response.headers["Location"])
    assert "code" in params, params
    return params["code"]


def user_id_of(app, subject: str) -> int:
    """The row id behind a `sub`."""
    with app.app_context():
        return db.session.scalar(db.select(User.id).filter_by(subject=subject))


def active(rp, token: str) -> bool:
    """Whether introspection (RFC 7662) says the token is alive."""
    response = rp.introspect(token)
    assert response.status_code == 200
    return response.get_json()["active"]


# Authorization codes ----------------------------------------------------------------


def test_codes_are_48_letters_and_digits_never_repeated(app, client):
    rp, _ = signed_in_rp(app, client)
    codes = {fresh_code(client, rp) for _ in range(5)}

    assert len(codes) == 5
    assert all(code.isascii() and code.isalnum() and len(code) == 48 for code in codes)


def test_a_replayed_code_fails_and_revokes_what_its_first_use_issued(app, client):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    code = fresh_code(client, rp, scope=OFFLINE)
    first = rp.redeem(code).get_json()
    assert rp.userinfo(first["access_token"]).status_code == 200

    replay = rp.redeem(code)

    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    assert rp.userinfo(first["access_token"]).status_code == 401
    assert not active(rp, first["access_token"])
    assert not active(rp, first["refresh_token"])
    assert rp.refresh(first["refresh_token"]).status_code == 400
    # Only what that code issued: the earlier sign-in's tokens still work.
    assert active(rp, exchange.tokens["access_token"])


def test_a_code_expires_after_sixty_seconds(app, client, clock):
    rp, _ = signed_in_rp(app, client)
    code = fresh_code(client, rp)
    clock.advance(seconds=61)

    response = rp.redeem(code)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_a_code_still_works_just_before_it_expires(app, client, clock):
    rp, _ = signed_in_rp(app, client)
    code = fresh_code(client, rp)
    clock.advance(seconds=55)

    assert rp.redeem(code).status_code == 200


def test_a_code_is_bound_to_its_redirect_uri(app, client):
    rp, _ = signed_in_rp(app, client)
    update_client(
        app, "rp", redirect_uris=["https://rp.example/callback", "https://rp.example/other"]
    )
    code = fresh_code(client, rp)

    response = rp.redeem(code, redirect_uri="https://rp.example/other")

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert rp.redeem(code).status_code == 200  # the refused try did not burn it


def test_a_code_is_bound_to_its_client(app, client):
    rp, _ = signed_in_rp(app, client)
    _, other_secret = make_client(app, "other")
    code = fresh_code(client, rp)
    thief = RelyingParty(client, "other", secret=other_secret, verifier=rp.verifier)

    response = thief.redeem(code)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert rp.redeem(code).status_code == 200  # the thief's try did not burn it


def test_pkce_verifier_must_match_the_challenge(app, client):
    rp, _ = signed_in_rp(app, client)
    code = fresh_code(client, rp)

    wrong = rp.redeem(code, code_verifier="x" * 50)
    assert wrong.status_code == 400
    assert wrong.get_json()["error"] == "invalid_grant"
    assert rp.redeem(code).status_code == 200  # a wrong verifier does not burn the code


def test_pkce_verifier_is_required_once_a_challenge_was_sent(app, client):
    rp, _ = signed_in_rp(app, client)
    code = fresh_code(client, rp)

    missing = rp.token_request(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri}
    )
    assert missing.status_code == 400
    assert missing.get_json()["error"] in ("invalid_request", "invalid_grant")
    assert rp.redeem(code).status_code == 200


def test_a_confidential_client_may_skip_pkce(app, client):
    rp, _ = signed_in_rp(app, client)
    response = client.get(rp.authorize_url(pkce=False))
    code = query(response.headers["Location"])["code"]

    assert rp.redeem(code, code_verifier=None).status_code == 200


# Client authentication ---------------------------------------------------------------


def test_a_wrong_client_secret_is_invalid_client_401(app, client):
    rp, _ = signed_in_rp(app, client)
    code = fresh_code(client, rp)
    impostor = RelyingParty(client, secret="not-the-secret", verifier=rp.verifier)

    response = impostor.redeem(code)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")  # RFC 6749 5.2
    assert rp.redeem(code).status_code == 200


def test_an_unknown_client_is_invalid_client(client, app):
    response = RelyingParty(client, "ghost", secret="whatever").token_request(
        {"grant_type": "client_credentials"}
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_client_secret_post_works_for_a_client_registered_for_it(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    update_client(app, "rp", token_endpoint_auth_method="client_secret_post")
    rp = RelyingParty(client, secret=client_secret)
    flow = SignInFlow(client, rp)
    flow.start()
    code = flow.complete(secret)["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": rp.verifier,
    }

    assert rp.token_request(data, auth="basic").status_code == 401  # not its method
    response = rp.token_request(data, auth="post")
    assert response.status_code == 200
    rp.verify_id_token(response.get_json()["id_token"])


def test_the_token_endpoint_is_never_cached(app, client):
    rp, _ = signed_in_rp(app, client)
    ok = rp.redeem(fresh_code(client, rp))
    error = rp.redeem("no-such-code")

    for response in (ok, error):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"
        assert response.mimetype == "application/json"


def test_an_unsupported_grant_type_is_an_oauth_error(app, client):
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)

    response = rp.token_request({"grant_type": "password", "username": "a", "password": "b"})

    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


# client_credentials -------------------------------------------------------------------


def test_client_credentials_gives_a_token_without_a_user(app, client):
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)

    response = rp.token_request({"grant_type": "client_credentials", "scope": "profile"})

    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert "refresh_token" not in body and "id_token" not in body
    info = rp.introspect(body["access_token"]).get_json()
    assert info["active"] is True and info["client_id"] == "rp"
    assert "sub" not in info
    assert rp.userinfo(body["access_token"]).status_code in (401, 403)  # no one to describe


def test_a_public_client_cannot_use_client_credentials(app, client):
    make_client(app, "spa", public=True)
    response = RelyingParty(client, "spa").token_request({"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


# Refresh tokens -------------------------------------------------------------------------


def test_no_refresh_token_without_offline_access(app, client):
    _, exchange = signed_in_rp(app, client)
    assert "refresh_token" not in exchange.tokens


def test_refresh_rotates_the_refresh_token(app, client):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)

    response = rp.refresh(exchange.tokens["refresh_token"])

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    renewed = response.get_json()
    assert renewed["refresh_token"] != exchange.tokens["refresh_token"]
    assert renewed["access_token"] != exchange.tokens["access_token"]
    assert set(renewed["scope"].split()) == set(OFFLINE.split())
    assert rp.userinfo(renewed["access_token"]).get_json()["sub"] == exchange.claims["sub"]
    assert not active(rp, exchange.tokens["refresh_token"])  # spent
    assert active(rp, renewed["refresh_token"])


def test_a_refresh_brings_a_new_id_token_of_the_same_sign_in(app, client, clock):
    """OIDC Core 12.2: same iss, sub, aud, azp, auth_time (acr, amr, sid too), a new iat, no
    nonce; its at_hash names the new access token. A second rotation does the same."""
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    first = exchange.claims
    tokens = exchange.tokens
    for _ in range(2):
        clock.advance(seconds=90)
        tokens = rp.refresh(tokens["refresh_token"]).get_json()
        renewed = rp.verify_id_token(tokens["id_token"], nonce=None)
        kept = ("iss", "sub", "aud", "azp", "auth_time", "acr", "amr", "sid")
        assert {k: renewed[k] for k in kept} == {k: first[k] for k in kept}
        assert renewed["iat"] >= first["iat"] + 90 and "nonce" not in renewed
        digest = hashlib.sha256(tokens["access_token"].encode()).digest()
        expected = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
        assert renewed["at_hash"] == expected, "at_hash of the new access token"


def test_a_reused_refresh_token_revokes_the_whole_family(app, client):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    old = exchange.tokens["refresh_token"]
    renewed = rp.refresh(old).get_json()
    newest = rp.refresh(renewed["refresh_token"]).get_json()

    reuse = rp.refresh(old)  # a thief (or a confused RP) replays a rotated token

    assert reuse.status_code == 400
    assert reuse.get_json()["error"] == "invalid_grant"
    for token in (newest["access_token"], newest["refresh_token"], renewed["access_token"]):
        assert not active(rp, token)
    assert rp.userinfo(newest["access_token"]).status_code == 401
    assert rp.userinfo(exchange.tokens["access_token"]).status_code == 401
    assert rp.refresh(newest["refresh_token"]).status_code == 400


def test_a_rotated_token_passes_its_grant_on_and_is_spent(app, client):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    old = exchange.tokens["refresh_token"]

    renewed = rp.refresh(old).get_json()

    with app.app_context():
        parent = Token.by_refresh_token(old)
        child = Token.by_refresh_token(renewed["refresh_token"])
        assert parent is not None and child is not None
        assert parent.refresh_revoked_at is not None
        assert parent.refresh_rotated_at == parent.refresh_revoked_at  # spent, not revoked
        assert child.parent_id == parent.id
        inherited = ("client_id", "user_id", "family", "code_id", "sid", "claims", "scope")
        assert [getattr(child, n) for n in inherited] == [getattr(parent, n) for n in inherited]
        assert child.authentication == parent.authentication is not None
        assert child.refresh_revoked_at is None and child.access_revoked_at is None


def test_refresh_may_narrow_but_never_widen_the_scope(app, client):
    rp, exchange = signed_in_rp(app, client, scope="openid email offline_access")

    narrowed = rp.refresh(exchange.tokens["refresh_token"], scope="openid offline_access")
    assert narrowed.status_code == 200
    assert set(narrowed.get_json()["scope"].split()) == {"openid", "offline_access"}

    widened = rp.refresh(narrowed.get_json()["refresh_token"], scope="openid profile")
    assert widened.status_code == 400
    assert widened.get_json()["error"] == "invalid_scope"


def test_a_narrowed_refresh_narrows_the_access_token_not_the_grant(app, client):
    """RFC 6749 6: the new refresh token's scope is the one presented's, and a refresh naming no
    scope gets all that was granted, whatever an earlier refresh asked for."""
    granted = {"openid", "email", "offline_access"}
    rp, exchange = signed_in_rp(app, client, scope=" ".join(sorted(granted)))
    narrowed = rp.refresh(exchange.tokens["refresh_token"], scope="openid offline_access")
    narrow = narrowed.get_json()
    assert set(narrow["scope"].split()) == {"openid", "offline_access"}
    assert "email" not in rp.userinfo(narrow["access_token"]).get_json()  # the access token's
    assert set(rp.introspect(narrow["access_token"]).get_json()["scope"].split()) == (
        granted - {"email"}
    )
    assert set(rp.introspect(narrow["refresh_token"]).get_json()["scope"].split()) == granted

    again = rp.refresh(narrow["refresh_token"]).get_json()  # no scope: the grant's
    assert set(again["scope"].split()) == granted
    assert rp.userinfo(again["access_token"]).get_json()["email"] == "ada@example.com"
    asked = rp.refresh(again["refresh_token"], scope="openid email offline_access")
    assert asked.status_code == 200, asked.text  # all of the grant may be asked for by name
    narrower = rp.refresh(asked.get_json()["refresh_token"], scope="openid offline_access")
    back = rp.refresh(narrower.get_json()["refresh_token"], scope="openid email offline_access")
    assert back.status_code == 200, back.text  # the scope path (read, checked, then spent)
    assert rp.refresh(back.get_json()["refresh_token"], scope="openid profile").status_code == 400


def test_a_refresh_token_is_bound_to_its_client(app, client):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    _, other_secret = make_client(app, "other")
    other = RelyingParty(client, "other", secret=other_secret)

    response = other.refresh(exchange.tokens["refresh_token"])

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert rp.refresh(exchange.tokens["refresh_token"]).status_code == 200


def test_an_expired_refresh_token_is_refused(app, client, clock):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    clock.advance(days=31)

    response = rp.refresh(exchange.tokens["refresh_token"])

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


# Revocation (RFC 7009) -------------------------------------------------------------------


def test_revoking_an_access_token(app, client):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)

    response = rp.revoke(exchange.tokens["access_token"], token_type_hint="access_token")

    assert response.status_code == 200
    assert rp.userinfo(exchange.tokens["access_token"]).status_code == 401
    assert not active(rp, exchange.tokens["access_token"])


def test_revoking_a_refresh_token_ends_its_grant(app, client):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    renewed = rp.refresh(exchange.tokens["refresh_token"]).get_json()

    response = rp.revoke(renewed["refresh_token"], token_type_hint="refresh_token")

    assert response.status_code == 200
    assert not active(rp, renewed["refresh_token"])
    assert not active(rp, renewed["access_token"])
    assert rp.refresh(renewed["refresh_token"]).status_code == 400


def test_revoking_an_unknown_token_is_still_200(app, client):
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    assert rp.revoke("never-issued").status_code == 200  # RFC 7009 2.2


def test_a_client_cannot_revoke_another_clients_token(app, client):
    rp, exchange = signed_in_rp(app, client)
    _, other_secret = make_client(app, "other")
    other = RelyingParty(client, "other", secret=other_secret)

    response = other.revoke(exchange.tokens["access_token"])

    assert response.status_code == 400
    assert active(rp, exchange.tokens["access_token"])


def test_revocation_requires_client_authentication(app, client):
    rp, exchange = signed_in_rp(app, client)
    response = client.post("/revoke", data={"token": exchange.tokens["access_token"]})
    assert response.status_code == 401
    assert active(rp, exchange.tokens["access_token"])


def test_a_public_client_revokes_its_own_refresh_token(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    make_client(app, "spa", public=True)
    rp = RelyingParty(client, "spa")
    exchange = SignInFlow(client, rp).authorize_and_exchange(secret, scope=OFFLINE)

    assert rp.revoke(exchange.tokens["refresh_token"]).status_code == 200
    assert rp.refresh(exchange.tokens["refresh_token"]).status_code == 400
    assert rp.userinfo(exchange.tokens["access_token"]).status_code == 401


# Introspection (RFC 7662) ---------------------------------------------------------------


def test_introspection_describes_a_live_access_token(app, client):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)

    response = rp.introspect(exchange.tokens["access_token"])

    assert response.headers["Cache-Control"] == "no-store"
    info = response.get_json()
    assert info["active"] is True
    assert info["client_id"] == "rp"
    assert info["sub"] == exchange.claims["sub"]
    assert set(info["scope"].split()) == set(OFFLINE.split())
    assert info["iss"] == "http://localhost"
    assert info["exp"] > info["iat"]
    assert info["token_type"] == "Bearer"


def test_introspection_says_inactive_for_expired_revoked_or_unknown(app, client, clock):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    assert active(rp, exchange.tokens["access_token"])

    assert rp.introspect("never-issued").get_json() == {"active": False}
    clock.advance(seconds=3601)
    assert rp.introspect(exchange.tokens["access_token"]).get_json() == {"active": False}
    assert active(rp, exchange.tokens["refresh_token"])  # refresh tokens live longer


def test_another_client_cannot_introspect_a_token(app, client):
    rp, exchange = signed_in_rp(app, client)
    _, other_secret = make_client(app, "other")
    other = RelyingParty(client, "other", secret=other_secret)

    response = other.introspect(exchange.tokens["access_token"])

    assert response.status_code == 200
    assert response.get_json() == {"active": False}  # nothing leaks to the wrong client
    assert active(rp, exchange.tokens["access_token"])


def test_introspection_requires_client_authentication(app, client):
    _, exchange = signed_in_rp(app, client)
    response = client.post("/introspect", data={"token": exchange.tokens["access_token"]})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_a_public_client_cannot_introspect(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    make_client(app, "spa", public=True)
    rp = RelyingParty(client, "spa")
    exchange = SignInFlow(client, rp).authorize_and_exchange(secret)

    response = client.post(
        "/introspect", data={"token": exchange.tokens["access_token"], "client_id": "spa"}
    )

    assert response.status_code == 401


def test_the_redirect_uri_must_be_repeated_at_the_token_endpoint(app, client):
    rp, _ = signed_in_rp(app, client)
    response = rp.redeem(fresh_code(client, rp), redirect_uri=None)  # RFC 6749 4.1.3
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_a_malformed_basic_header_is_invalid_client(app, client):
    rp, _ = signed_in_rp(app, client)
    code = fresh_code(client, rp)
    for header in ("Basic !!!", "Basic cnA=", "Bearer x", "Basic"):
        response = client.post(
            "/token",
            data={"grant_type": "authorization_code", "code": code},
            headers={"Authorization": header},
        )
        assert response.status_code == 401, header
        assert response.get_json()["error"] == "invalid_client"


def test_a_code_of_a_user_disabled_since_is_refused(app, client):
    rp, exchange = signed_in_rp(app, client)
    code = fresh_code(client, rp)
    disable_user(app, user_id_of(app, exchange.claims["sub"]))

    response = rp.redeem(code)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    with app.app_context():  # enabled again: the code was spent all the same
        db.session.get(User, user_id_of(app, exchange.claims["sub"])).disabled_at = None
        db.session.commit()
    assert rp.redeem(code).status_code == 400


def test_a_refresh_token_of_a_user_disabled_since_is_refused_and_stays_unspent(app, client):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    user_id = user_id_of(app, exchange.claims["sub"])
    disable_user(app, user_id)

    response = rp.refresh(exchange.tokens["refresh_token"])

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"  # RFC 6749 5.2: no longer valid
    with app.app_context():
        row = db.session.scalar(db.select(Token).filter_by(user_id=user_id))
        assert row.refresh_revoked_at is None  # refused, not rotated


def test_a_refresh_token_is_not_an_access_token(app, client):
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    assert rp.userinfo(exchange.tokens["refresh_token"]).status_code == 401


def test_a_confidential_client_must_authenticate_to_refresh(app, client):
    _, exchange = signed_in_rp(app, client, scope=OFFLINE)
    response = client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": exchange.tokens["refresh_token"],
            "client_id": "rp",
        },
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_protocol_endpoints_leave_the_browser_session_alone(app, client):
    """/token, /userinfo, /introspect and /revoke neither read nor renew a browser session:
    the cookie sent along (this test client is the signed-in browser) gets no Set-Cookie,
    and the browser is still signed in afterwards."""
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    assert client.get_cookie("idp_session") is not None

    answers = [
        rp.refresh(exchange.tokens["refresh_token"]),
        rp.userinfo(exchange.tokens["access_token"]),
        rp.introspect(exchange.tokens["access_token"]),
        client.get("/token"),  # 405, not a 503 for a session that was never opened
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, 405]
    assert all("Set-Cookie" not in a.headers for a in answers)
    assert "code" in query(client.get(rp.authorize_url()).headers["Location"])  # still signed in


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"client_id": "rp", "client_secret": "the-secret"}, "client_secret"),
        ({"client_id": "spa"}, "client_id"),
    ],
)
def test_basic_credentials_come_alone_and_name_the_same_client(app, client, extra, named):
    """RFC 6749 2.3: one authentication method a request; a form naming another client is
    not answered for the one Basic authenticated. The code survives the refusal."""
    rp, _ = signed_in_rp(app, client)
    make_client(app, "spa", public=True)
    code = fresh_code(client, rp)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": rp.verifier,
    }
    extra = {k: rp.secret if v == "the-secret" else v for k, v in extra.items()}

    refused = rp.token_request({**data, **extra}, auth="basic")

    assert refused.status_code == 400, refused.text
    assert refused.get_json()["error"] == "invalid_request"
    assert named in refused.get_json()["error_description"]
    assert rp.token_request({**data, "client_id": "rp"}, auth="basic").status_code == 200
