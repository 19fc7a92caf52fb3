"""Factories and the SignInFlow / RelyingParty helpers, so flow tests read like stories."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import event
from werkzeug.test import TestResponse

from idp.clock import epoch, now
from idp.extensions import db
from idp.models.client import Client
from idp.models.user import User
from idp.worker import Drained, drain

PASSWORD = "plum-orchard-velvet-93"
REDIRECT_URI = "https://rp.example/callback"


def make_user(
    app: Flask,
    email: str = "ada@example.com",
    *,
    password: str = PASSWORD,
    name: str = "Ada Lovelace",
    activated: bool = True,
    roles: list[str] | None = None,
    **fields: Any,
) -> User:
    """A user with a password; activated (email proven) unless told otherwise."""
    with app.app_context():
        user = User(
            email=email,
            name=name,
            given_name=name.split()[0],
            family_name=name.split()[-1],
            email_verified=activated,
            roles=roles or [],
            **fields,
        )
        app.extensions["idp.passwords"].set_password(user, password, now=now())
        if activated:
            user.activated_at = now()
        db.session.add(user)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
        return user


def make_client(
    app: Flask,
    client_id: str = "rp",
    *,
    public: bool = False,
    first_party: bool = True,
    redirect_uris: list[str] | None = None,
    **fields: Any,
) -> tuple[str, str | None]:
    """A registered client; returns (client_id, secret)."""
    with app.app_context():
        client = Client(
            client_id=client_id,
            name=f"{client_id.upper()} Portal",
            redirect_uris=redirect_uris or [REDIRECT_URI],
            post_logout_redirect_uris=["https://rp.example/bye"],
            token_endpoint_auth_method="none" if public else "client_secret_basic",
            grant_types=["authorization_code", "refresh_token", "client_credentials"],
            first_party=first_party,
            **fields,
        )
        secret = None if public else client.set_secret()
        db.session.add(client)
        db.session.commit()
        return client_id, secret


def query(url: str) -> dict[str, str]:
    """The query parameters of a redirect."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def csrf_of(response: TestResponse) -> str:
    """The CSRF token in a rendered form."""
    match = (
        re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.text)
        or re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        or re.search(r'name="csrf-token" content="([^"]+)"', response.text)
    )
    assert match, "page has no CSRF token"
    return match.group(1)


@dataclass
class RelyingParty:
    """What an RP does: build the authorization URL, redeem the code, verify the ID token."""

    browser: FlaskClient
    client_id: str = "rp"
    secret: str | None = None
    redirect_uri: str = REDIRECT_URI
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    def authorize_url(self, pkce: bool = True, **extra: str) -> str:
        """The URL the RP sends the browser to."""
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile email",
            "state": self.state,
            "nonce": self.nonce,
        }
        if pkce:
            params["code_challenge"] = create_s256_code_challenge(self.verifier)
            params["code_challenge_method"] = "S256"
        params.update(extra)
        return "/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})

    def token_request(self, data: dict[str, str], *, auth: str = "basic") -> TestResponse:
        """POST to the token endpoint with the client's authentication."""
        headers = {}
        data = dict(data)
        if self.secret and auth == "basic":
            import base64

            raw = f"{self.client_id}:{self.secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        elif self.secret and auth == "post":
            data.update(client_id=self.client_id, client_secret=self.secret)
        else:
            data.setdefault("client_id", self.client_id)
        return self.browser.post("/token", data=data, headers=headers)

    def redeem(self, code: str, **extra: str) -> TestResponse:
        """Exchange a code (with the PKCE verifier)."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
            **extra,
        }
        return self.token_request({k: v for k, v in data.items() if v is not None})

    def verify_id_token(self, id_token: str, *, nonce: str | None = "expected") -> dict[str, Any]:
        """Verify signature against the JWKS and the OIDC Core 3.1.3.7 checks."""
        jwks = KeySet.import_key_set(self.browser.get("/jwks.json").get_json())
        token = jwt.decode(id_token, jwks, algorithms=["RS256", "ES256"])
        claims = dict(token.claims)
        app = self.browser.application
        with app.app_context():
            at = epoch(now())  # the app's clock: tests move it
        registry = jwt.JWTClaimsRegistry(
            now=at,
            iss={"essential": True, "value": "http://localhost"},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        registry.validate(claims)
        if nonce == "expected":
            assert claims["nonce"] == self.nonce
        return claims

    def refresh(self, refresh_token: str, **extra: str) -> TestResponse:
        """Trade a refresh token for new tokens (RFC 6749 6)."""
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
        return self.token_request(data)

    def userinfo(self, access_token: str) -> TestResponse:
        """GET the userinfo endpoint with a bearer token."""
        return self.browser.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    def introspect(self, token: str, **extra: str) -> TestResponse:
        """RFC 7662, authenticated as this client."""
        return self.browser.post(
            "/introspect", data={"token": token, **extra}, headers=self.basic_auth()
        )

    def revoke(self, token: str, **extra: str) -> TestResponse:
        """RFC 7009, authenticated as this client (or naming itself, when public)."""
        data = {"token": token, **extra}
        if self.secret is None:
            data["client_id"] = self.client_id
        return self.browser.post("/revoke", data=data, headers=self.basic_auth())

    def basic_auth(self) -> dict[str, str]:
        """client_secret_basic (RFC 6749 2.3.1); nothing for a public client."""
        if self.secret is None:
            return {}
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass(frozen=True)
class Exchange:
    """What the RP holds after a completed code flow: redirect parameters, tokens, ID token."""

    params: dict[str, str]
    tokens: dict[str, Any]
    claims: dict[str, Any]


class SignInFlow:
    """A user in a browser: follows redirects by hand so each step can be asserted."""

    def __init__(
        self,
        browser: FlaskClient,
        rp: RelyingParty,
        email: str = "ada@example.com",
        password: str = PASSWORD,
    ) -> None:
        self.browser = browser
        self.rp = rp
        self.email = email
        self.password_value = password
        self.location = ""

    def start(self, **extra: str) -> TestResponse:
        """The RP sends the browser to /authorize."""
        response = self.browser.get(self.rp.authorize_url(**extra))
        self.location = response.headers.get("Location", "")
        return response

    def follow(self) -> TestResponse:
        """Follow the last redirect within the provider."""
        assert self.location.startswith(("/", "http://localhost/")), self.location
        response = self.browser.get(self.location)
        self.location = response.headers.get("Location", "")
        return response

    def password(self, email: str | None = None, password: str | None = None) -> TestResponse:
        """Submit the sign-in form at the current location."""
        page = self.browser.get(self.location)
        response = self.browser.post(
            self.location,
            data={
                "csrf_token": csrf_of(page),
                "email": email or self.email,
                "password": password or self.password_value,
            },
        )
        self.location = response.headers.get("Location", "")
        return response

    def until_rp(self, limit: int = 6) -> dict[str, str]:
        """Follow provider redirects until the RP's redirect_uri; return its parameters."""
        for _ in range(limit):
            if self.location.startswith(self.rp.redirect_uri):
                return query(self.location)
            self.follow()
        raise AssertionError(f"never reached the RP; stopped at {self.location}")

    def totp(self, secret: str, *, remember: bool = False) -> TestResponse:
        """Answer the authenticator-app challenge the policy asks for."""
        while self.location.startswith("/authorize/resume/"):
            self.follow()
        assert self.location.startswith("/signin/verify"), self.location
        page = self.browser.get(self.location)
        code = totp_now(secret, app=self.browser.application)
        data = {"csrf_token": csrf_of(page), "code": code}
        if remember:
            data["remember"] = "y"
        response = self.browser.post(self.location, data=data)
        assert response.status_code == 302, response.text
        self.location = response.headers.get("Location", "")
        return response

    def consent(self, *, allow: bool = True) -> TestResponse:
        """Answer the consent page."""
        assert self.location.startswith("/consent/"), self.location
        page = self.browser.get(self.location)
        button = {"allow": "Allow"} if allow else {"deny": "Don't allow"}
        response = self.browser.post(self.location, data={"csrf_token": csrf_of(page), **button})
        self.location = response.headers.get("Location", "")
        return response

    def complete(self, secret: str | None = None, *, limit: int = 10) -> dict[str, str]:
        """Do what the provider asks (password, TOTP, consent) until back at the RP."""
        for _ in range(limit):
            if self.location.startswith(self.rp.redirect_uri):
                return query(self.location)
            path = urlsplit(self.location).path
            if path == "/signin":
                assert self.password().status_code == 302, "password refused"
            elif path == "/signin/verify":
                assert secret is not None, "the provider asks for a second factor"
                self.totp(secret)
            elif path.startswith("/consent/"):
                self.consent()
            else:
                self.follow()
        raise AssertionError(f"never reached the RP; stopped at {self.location}")

    def authorize_and_exchange(self, secret: str | None = None, **extra: str) -> Exchange:
        """The whole story: authorize, sign in as asked, redeem the code, verify the ID token."""
        self.start(**extra)
        params = self.complete(secret)
        assert "code" in params, params
        response = self.rp.redeem(params["code"])
        assert response.status_code == 200, response.get_json()
        tokens = response.get_json()
        claims = self.rp.verify_id_token(
            tokens["id_token"], nonce=None if "nonce" in extra else "expected"
        )
        return Exchange(params=params, tokens=tokens, claims=claims)


def totp_now(secret: str, *, app: Flask, offset_steps: int = 0) -> str:
    """The code an authenticator app shows at the app's current time."""
    import pyotp

    from idp.clock import epoch

    with app.app_context():
        at = epoch(now()) + 30 * offset_steps
    return pyotp.TOTP(secret).at(at)


def key_on_page(response: TestResponse) -> str:
    """The TOTP key shown for manual entry."""
    match = re.search(r'id="totp-key">([A-Z2-7 ]+)<', response.text)
    assert match, "no TOTP key on the page"
    return match.group(1).replace(" ", "")


def enroll_totp(app: Flask, user_id: int, *, name: str = "Phone") -> str:
    """Give a user an authenticator app directly (for tests about later sign-ins)."""
    from idp.authn import totp

    secret = totp.new_secret()
    with app.app_context():
        totp.enroll(
            user_id,
            name=name,
            secret=secret,
            code=totp_now(secret, app=app),
            now=now(),
            app_secret=app.config["SECRET_KEY"],
        )
        # A fresh enrollment used the current step; later sign-ins need the next one.
        from idp.models.totp_credential import TotpCredential

        for cred in TotpCredential.of_user(user_id):
            cred.last_step = 0
        db.session.commit()
    return secret


@contextmanager
def commits(app: Flask) -> Iterator[list[str]]:
    """Record each database commit the app makes while the block runs (as "commit").

    Housekeeping (once a minute per worker, at a random first moment) is held off meanwhile:
    in a long run it would otherwise commit in whichever request it met.
    """
    seen: list[str] = []

    def committed(_connection: Any) -> None:
        seen.append("commit")

    sweeper = app.extensions["idp.sweeper"]
    next_at, sweeper.next_at = sweeper.next_at, datetime.max
    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", committed)
        sweeper.next_at = next_at


def deliver_mail(app: Flask) -> Drained:
    """Run the mail worker once, as `idp worker --once` would: queued mail reaches the outbox."""
    with app.app_context():
        return drain(app.extensions["idp.settings"])


def latest_mail(app: Flask, to: str | None = None) -> str:
    """The body of the newest message in the outbox (optionally to one address), once delivered."""
    from idp.mail import outbox_messages

    deliver_mail(app)
    with app.app_context():
        for message in outbox_messages():
            if to is None or message.to == to:
                return message.body
    raise AssertionError("no mail in the outbox")


def reset_link_in_mail(app: Flask, to: str | None = None) -> str:
    """The path of the password reset link in the newest mail (optionally to one address)."""
    match = re.search(r"http://localhost(/signin/reset/\S+)", latest_mail(app, to))
    assert match, "no reset link in the mail"
    return match.group(1)


def code_in_mail(app: Flask, to: str | None = None) -> str:
    """The 6-digit code in the newest mail."""
    match = re.search(r"\b(\d{6})\b", latest_mail(app, to))
    assert match, "no code in the mail"
    return match.group(1)


def submit(browser: FlaskClient, url: str, data: dict[str, str]) -> TestResponse:
    """GET a form page, then POST it with its CSRF token."""
    page = browser.get(url)
    return browser.post(url, data={"csrf_token": csrf_of(page), **data})


class LiveBrowser:
    """A user's browser over real HTTP: a cookie jar, forms posted with their CSRF tokens."""

    def __init__(self, app: Flask, email: str = "ada@example.com", password: str = PASSWORD):
        self.app = app
        self.email = email
        self.password = password
        self.http = requests.Session()
        self.http.trust_env = False  # never route localhost through a proxy

    def submit(self, url: str, data: dict[str, str]) -> requests.Response:
        """GET a form page, then POST it with its CSRF token; redirects are not followed."""
        page = self.http.get(url, allow_redirects=False)
        assert page.status_code == 200, (url, page.status_code)
        return self.http.post(
            url, data={"csrf_token": csrf_of(page), **data}, allow_redirects=False
        )

    def through(self, url: str, *, until: str, secret: str | None = None, limit: int = 12) -> str:
        """Follow the provider's redirects, answering each step, until a URL under `until`."""
        for _ in range(limit):
            if url.startswith(until):
                return url
            path = urlsplit(url).path
            if path == "/signin":
                response = self.submit(url, {"email": self.email, "password": self.password})
            elif path == "/signin/verify":
                assert secret is not None, "the provider asks for a second factor"
                response = self.submit(url, {"code": totp_now(secret, app=self.app)})
            elif path.startswith("/consent/"):
                response = self.submit(url, {"allow": "Allow"})
            else:
                response = self.http.get(url, allow_redirects=False)
            assert response.status_code in (302, 303), (url, response.status_code)
            url = urljoin(url, response.headers["Location"])
        raise AssertionError(f"never reached {until}; stopped at {url}")


def update_client(app: Flask, client_id: str, **fields: Any) -> None:
    """Change a registered client (e.g. its token_endpoint_auth_method)."""
    with app.app_context():
        client = Client.by_client_id(client_id)
        assert client is not None
        for name, value in fields.items():
            setattr(client, name, value)
        db.session.commit()


def disable_user(app: Flask, user_id: int) -> None:
    """What an admin's "disable" does to the account row."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        user.disabled_at = now()
        db.session.commit()
