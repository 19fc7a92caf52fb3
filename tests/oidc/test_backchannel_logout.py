"""Back-Channel Logout 1.0 end to end: a real RP (its own Flask app and session) on a local
port hears of the sign-out through `idp worker`, verifies the token with the JWKS, and ends
its session; a failing RP is retried and never slows the user's sign-out."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from idp.clock import epoch
from idp.extensions import db
from idp.models.client import Client
from idp.models.logout_delivery import FAILED, QUEUED, SENT, LogoutDelivery
from idp.oidc import backchannel
from tests.conftest import LiveServer
from tests.oidc.rp_app import RPState, running_rp
from tests.support import LiveBrowser, enroll_totp, make_client, make_user


@pytest.fixture
def app(live_server: LiveServer) -> Flask:
    """The provider, served over HTTP (the RP fetches its JWKS and token endpoint)."""
    return live_server.app


def register(app: Flask, client_id: str, rp: RPState, **fields: object) -> None:
    _, secret = make_client(
        app,
        client_id,
        redirect_uris=[f"{rp.url}/callback"],
        backchannel_logout_uri=f"{rp.url}/backchannel-logout",
        backchannel_logout_session_required=True,
        **fields,
    )
    rp.secret = secret or ""


def rp_state(live: LiveServer, client_id: str) -> RPState:
    """An RP of this provider whose clock follows the provider's test clock."""
    return RPState(issuer=live.url, client_id=client_id, now=lambda: epoch(live.clock.now()))


@pytest.fixture
def portal(live_server: LiveServer) -> Iterator[RPState]:
    with running_rp(rp_state(live_server, "portal")) as rp:
        register(live_server.app, "portal", rp)
        yield rp


def sign_in_at(rp: RPState, user: LiveBrowser, secret: str) -> None:
    """The user opens the RP, signs in at the provider, and lands signed in at the RP."""
    start = user.http.get(f"{rp.url}/login", allow_redirects=False).headers["Location"]
    callback = user.through(start, until=f"{rp.url}/callback", secret=secret)
    assert user.http.get(callback).status_code == 200
    assert user.http.get(f"{rp.url}/me").status_code == 200


def sign_out_at_provider(live: LiveServer, user: LiveBrowser) -> float:
    """POST /logout as the user would (confirm page); returns how long it took."""
    started = time.monotonic()
    response = user.submit(f"{live.url}/logout", {"confirm": "yes"})
    assert response.status_code == 200, response.status_code
    assert "You are signed out" in response.text
    return time.monotonic() - started


def worker(app: Flask) -> backchannel.Delivered:
    """`idp worker` once, for logout tokens."""
    with app.app_context():
        return backchannel.drain(app.extensions["idp.settings"], app.extensions["idp.oidc"].keys)


def rows(app: Flask) -> list[LogoutDelivery]:
    with app.app_context():
        found = list(db.session.scalars(select(LogoutDelivery).order_by(LogoutDelivery.id)))
        db.session.expunge_all()
        return found


def ada_in_the_portal(app: Flask, portal: RPState) -> tuple[LiveBrowser, str]:
    """Ada, with an authenticator app, signed in at the portal: her browser and the sid."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    ada = LiveBrowser(app)
    sign_in_at(portal, ada, secret)
    [sid] = portal.signed_in
    return ada, sid


def test_the_rp_verifies_the_logout_token_and_ends_its_session(
    live_server: LiveServer, portal: RPState
) -> None:
    app = live_server.app
    ada, sid = ada_in_the_portal(app, portal)

    sign_out_at_provider(live_server, ada)
    assert portal.received == []  # the sign-out never waits for the RP: the worker tells it
    assert worker(app) == backchannel.Delivered(sent=1)

    [claims] = portal.received
    assert claims["sid"] == sid and claims["aud"] == "portal" and "nonce" not in claims
    assert ada.http.get(f"{portal.url}/me").status_code == 401  # the RP's session ended
    [row] = rows(app)
    assert (row.status, row.attempts, row.last_status, row.jti) == (SENT, 1, 200, claims["jti"])
    assert worker(app) == backchannel.Delivered()  # exactly one token


def test_rp_initiated_logout_reaches_every_client_of_the_session(
    live_server: LiveServer, portal: RPState
) -> None:
    app = live_server.app
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    with running_rp(rp_state(live_server, "claims")) as claims_rp:
        register(app, "claims", claims_rp)
        ada = LiveBrowser(app)
        sign_in_at(portal, ada, secret)
        sign_in_at(claims_rp, ada, secret)  # single sign-on: same provider session
        [sid] = portal.signed_in
        assert claims_rp.signed_in.keys() == {sid}  # one provider session serves both

        # The portal sends the user to the end_session_endpoint; only the portal asked.
        ada.submit(f"{live_server.url}/logout?client_id=portal", {"confirm": "yes"})

        assert worker(app).sent == 2
        assert [c["aud"] for c in portal.received] == ["portal"]
        assert [c["aud"] for c in claims_rp.received] == ["claims"]
        assert ada.http.get(f"{claims_rp.url}/me").status_code == 401
        assert ada.http.get(f"{portal.url}/me").status_code == 401


def test_a_failing_rp_is_retried_with_backoff_and_never_blocks_sign_out(
    live_server: LiveServer, portal: RPState
) -> None:
    app = live_server.app
    settings = app.extensions["idp.settings"]
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    ada = LiveBrowser(app)
    sign_in_at(portal, ada, secret)
    portal.refuse = 2  # the RP answers 500 twice

    assert sign_out_at_provider(live_server, ada) < 2.0
    assert worker(app) == backchannel.Delivered(retrying=1)
    [row] = rows(app)
    assert (row.status, row.attempts, row.last_status) == (QUEUED, 1, 500)
    assert worker(app) == backchannel.Delivered()  # not due yet: backoff

    live_server.clock.advance(seconds=settings.logout_retry_seconds)
    assert worker(app) == backchannel.Delivered(retrying=1)
    live_server.clock.advance(seconds=settings.logout_retry_seconds)
    assert worker(app) == backchannel.Delivered()  # the delay doubled
    live_server.clock.advance(seconds=settings.logout_retry_seconds)
    assert worker(app) == backchannel.Delivered(sent=1)
    [row] = rows(app)
    assert (row.status, row.attempts) == (SENT, 3)
    assert len(portal.received) == 1
    assert ada.http.get(f"{portal.url}/me").status_code == 401


def test_an_unreachable_rp_is_given_up_on_and_the_admin_sees_it(
    live_server: LiveServer, portal: RPState
) -> None:
    app = live_server.app
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    ada = LiveBrowser(app)
    sign_in_at(portal, ada, secret)
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.client_id == "portal"))
        assert client is not None
        client.backchannel_logout_uri = "http://127.0.0.1:9/nobody-listens"
        db.session.commit()

    sign_out_at_provider(live_server, ada)
    for _ in range(app.extensions["idp.settings"].logout_max_attempts):
        worker(app)
        live_server.clock.advance(hours=7)
    [row] = rows(app)
    assert row.status == FAILED and row.last_error

    from idp.manage.clients import logout_deliveries

    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.client_id == "portal"))
        assert [d.status for d in logout_deliveries(client)] == [FAILED]


def test_deleting_a_user_logs_them_out_of_every_app(
    live_server: LiveServer, portal: RPState
) -> None:
    """An admin deletes the account: the apps it was signed in to are told, then the rows go."""
    app = live_server.app
    ada, sid = ada_in_the_portal(app, portal)

    result = app.test_cli_runner().invoke(args=["user", "delete", "ada@example.com", "--yes"])
    assert result.exit_code == 0, result.output

    assert worker(app) == backchannel.Delivered(sent=1)
    [claims] = portal.received
    assert claims["sid"] == sid and claims["aud"] == "portal"
    assert ada.http.get(f"{portal.url}/me").status_code == 401
