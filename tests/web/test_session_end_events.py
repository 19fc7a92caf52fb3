"""Every event that ends a session queues exactly one logout token per client it served."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.authn.password_reset import complete_reset
from idp.clock import now
from idp.extensions import db
from idp.manage import users
from idp.manage.actor import CLI
from idp.manage.housekeeping import sweep
from idp.models.logout_delivery import LogoutDelivery
from idp.models.password_reset import PasswordReset
from idp.models.user import User
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
    submit,
)
from tests.web.test_admin_helpers import sign_in

BACKCHANNEL = "https://rp.example/backchannel"


def deliveries(app: Flask) -> list[tuple[str, str, str]]:
    """(client_id, sid, reason) of every queued logout token."""
    with app.app_context():
        rows = db.session.scalars(select(LogoutDelivery).order_by(LogoutDelivery.id))
        return [(r.client_id, r.sid, r.reason) for r in rows]


@pytest.fixture
def story(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """Ada signed in to two back-channel clients (twice to one) and one without a URI."""
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    found: dict[str, Any] = {"user": user, "secret": secret}
    for client_id, uri in (("rp1", BACKCHANNEL + "/1"), ("rp2", BACKCHANNEL + "/2"), ("rp3", None)):
        _, client_secret = make_client(app, client_id, backchannel_logout_uri=uri)
        rp = RelyingParty(client, client_id=client_id, secret=client_secret)
        found[client_id] = SignInFlow(client, rp).authorize_and_exchange(secret)
    # The same client again in the same session: still one token when it ends.
    rp1 = RelyingParty(client, client_id="rp1", secret=None)
    SignInFlow(client, rp1).start()
    found["sid"] = found["rp1"].claims["sid"]
    assert found["sid"] == found["rp2"].claims["sid"] == found["rp3"].claims["sid"]
    assert deliveries(app) == []  # nothing is owed while the session lives
    return found


def _logout(app: Flask, client: FlaskClient, story: dict[str, Any]) -> None:
    response = submit(client, "/logout", {"confirm": "yes"})
    assert response.status_code == 200


def _logout_with_hint(app: Flask, client: FlaskClient, story: dict[str, Any]) -> None:
    hint = story["rp2"].tokens["id_token"]
    response = client.get(f"/logout?id_token_hint={hint}")
    assert response.status_code == 200  # RP-initiated by rp2: rp1 hears of it too


def _everywhere(app: Flask, client: FlaskClient, story: dict[str, Any]) -> None:
    page = client.get("/account/security")
    client.post("/account/sign-out-everywhere", data={"csrf_token": csrf_of(page)})


def _expired_found(app: Flask, client: FlaskClient, story: dict[str, Any]) -> None:
    app.extensions["idp.clock"].advance(
        minutes=app.extensions["idp.settings"].session_idle_minutes + 1
    )
    client.get("/account/security")  # the browser comes back: its session is found expired


def _expired_swept(app: Flask, client: FlaskClient, story: dict[str, Any]) -> None:
    app.extensions["idp.clock"].advance(hours=app.extensions["idp.settings"].session_max_hours + 1)
    with app.app_context():
        assert sweep(app.extensions["idp.settings"], now=now())["sessions"] == 1


def _admin(action: Callable[[User], None]) -> Callable[..., None]:
    def run(app: Flask, client: FlaskClient, story: dict[str, Any]) -> None:
        with app.app_context():
            action(db.session.get(User, story["user"].id))

    return run


def _password_changed_elsewhere(app: Flask, client: FlaskClient, story: dict[str, Any]) -> None:
    other = app.test_client()
    app.extensions["idp.clock"].advance(seconds=31)  # a fresh TOTP code for the other browser
    sign_in(other, "ada@example.com", story["secret"])
    page = other.get("/account/security")
    other.post(
        "/account/password",
        data={"csrf_token": csrf_of(page), "current": PASSWORD, "new": "quartz-meadow-lantern-57"},
    )


def _password_reset(app: Flask, client: FlaskClient, story: dict[str, Any]) -> None:
    with app.app_context():
        reset = PasswordReset(
            user_id=story["user"].id,
            token_hash="x" * 64,
            created_at=now(),
            expires_at=now() + timedelta(hours=1),
        )
        db.session.add(reset)
        db.session.commit()
        complete_reset(
            reset, "quartz-meadow-lantern-57", passwords=app.extensions["idp.passwords"], now=now()
        )


EVENTS = {
    "sign-out at /logout": (_logout, "signed_out"),
    "RP-initiated logout": (_logout_with_hint, "signed_out"),
    "sign out everywhere": (_everywhere, "signed_out_everywhere"),
    "expiry found": (_expired_found, "expired"),
    "expiry swept": (_expired_swept, "expired"),
    "admin disables": (
        _admin(lambda u: users.set_disabled(u, True, actor=CLI)),
        "account_disabled",
    ),
    "admin resets MFA": (_admin(lambda u: users.reset_mfa(u, actor=CLI)), "mfa_reset"),
    "password changed": (_password_changed_elsewhere, "password_changed"),
    "password reset": (_password_reset, "password_reset"),
}


@pytest.mark.parametrize("event", list(EVENTS), ids=list(EVENTS))
def test_each_event_queues_one_token_per_back_channel_client(
    app: Flask, client: FlaskClient, story: dict[str, Any], event: str
) -> None:
    end, reason = EVENTS[event]
    sid = story["sid"]

    end(app, client, story)

    assert sorted(deliveries(app)) == [("rp1", sid, reason), ("rp2", sid, reason)]
    # Ending what is already ended (this browser signs out too) owes nobody a second token.
    submit(client, "/logout", {"confirm": "yes"}) if client.get(
        "/logout"
    ).status_code == 200 else None
    assert len(deliveries(app)) == 2
