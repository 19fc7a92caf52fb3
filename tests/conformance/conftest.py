"""The OpenID Foundation conformance suite's point of view, for the Basic OP plan.

The suite registers a confidential client (client_secret_basic unless the module says
otherwise), sends no PKCE unless the module is about PKCE, validates every ID token as
OIDC Core 3.1.3.7 says, and drives a browser where a user signs in (here: password and
authenticator app, since every sign-in here has a second factor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp.clock import Clock, timestamp
from tests.support import (
    Exchange,
    RelyingParty,
    SignInFlow,
    enroll_totp,
    make_client,
    make_user,
    query,
)


@dataclass
class Suite:
    """One conformance run: the registered client, the test user, the browser."""

    app: Flask
    browser: FlaskClient
    rp: RelyingParty
    totp_secret: str
    clock: Clock

    def flow(self) -> SignInFlow:
        """A new authorization request from the same browser."""
        return SignInFlow(self.browser, self.rp)

    def authorize(self, **extra: Any) -> str:
        """Send the browser to /authorize; the Location it is sent to next."""
        return self.browser.get(self.rp.authorize_url(**{"pkce": False, **extra})).location

    def code_flow(self, **extra: Any) -> Exchange:
        """Authorize, sign in as the provider asks, redeem the code, validate the ID token."""
        flow = self.flow()
        flow.start(**{"pkce": False, **extra})
        params = flow.complete(self.totp_secret)
        nonce_sent = extra.get("nonce", self.rp.nonce) is not None
        return self.redeem(params, pkce=bool(extra.get("pkce")), nonce_sent=nonce_sent)

    def redeem(
        self, params: dict[str, str], *, pkce: bool = False, nonce_sent: bool = True
    ) -> Exchange:
        """Token request and the ID token checks every module runs."""
        assert "code" in params, params
        assert params["state"] == self.rp.state
        assert params["iss"] == "http://localhost"
        response = self.rp.redeem(params["code"], code_verifier=self.rp.verifier if pkce else None)
        assert response.status_code == 200, response.get_json()
        assert response.headers["Cache-Control"] == "no-store"
        tokens = response.get_json()
        assert tokens["token_type"] == "Bearer"
        claims = self.rp.verify_id_token(tokens["id_token"], nonce=None)
        if nonce_sent:
            assert claims["nonce"] == self.rp.nonce
        else:
            assert "nonce" not in claims
        assert claims["auth_time"] <= timestamp_of(self.app)
        assert claims["azp"] == self.rp.client_id
        return Exchange(params=params, tokens=tokens, claims=claims)

    def userinfo(self, access_token: str) -> dict[str, Any]:
        """GET userinfo; 200 with a sub (OIDC Core 5.3.2)."""
        response = self.rp.userinfo(access_token)
        assert response.status_code == 200, response.get_json()
        info = response.get_json()
        assert info["sub"]
        return info

    def error_at_rp(self, location: str) -> dict[str, str]:
        """An error response at the redirect_uri, with state and iss."""
        assert location.startswith(self.rp.redirect_uri), location
        params = query(location)
        assert params["state"] == self.rp.state
        assert params["iss"] == "http://localhost"
        assert "code" not in params
        return params


def timestamp_of(app: Flask) -> int:
    """The app's current time in epoch seconds."""
    with app.app_context():
        return timestamp()


@pytest.fixture
def suite(app, client, clock) -> Suite:
    """A registered client and a returning user with an authenticator app."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    return Suite(
        app=app,
        browser=client,
        rp=RelyingParty(client, secret=client_secret),
        totp_secret=secret,
        clock=clock,
    )
