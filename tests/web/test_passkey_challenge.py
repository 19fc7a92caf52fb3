"""The passkey sign-in's challenge: asked on every sign-in page view (autofill), kept in a signed
cookie instead of a session row, and still single use against a replayed assertion."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from idp.extensions import db
from idp.models.audit_event import AuditEvent
from idp.models.session import SessionRecord
from tests.soft_authenticator import SoftAuthenticator, give_key
from tests.support import csrf_of, make_client, make_user

OPTIONS, FINISH = "/signin/passkey/options", "/signin/passkey"


def session_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SessionRecord))


def signed_in_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(SessionRecord)
            .where(SessionRecord.user_id.is_not(None))
        )


def reasons(app, event: str) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.event == event))
        return [str((row.detail or {}).get("reason")) for row in rows]


def synced_passkey(app) -> SoftAuthenticator:
    """A user's synced passkey: its signature counter stays 0, so it cannot tell a replay."""
    user = make_user(app)
    passkey = SoftAuthenticator(backup_eligible=True, attachment="platform", counter_step=0)
    give_key(app, user.id, passkey, name="Phone")
    return passkey


def options(browser: FlaskClient) -> tuple[str, dict]:
    """Load the sign-in page and ask for passkey options, as its autofill does; the CSRF token
    and the options."""
    token = csrf_of(browser.get("/signin"))
    response = browser.post(OPTIONS, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    return token, response.get_json()


def finish(browser: FlaskClient, token: str, answer: dict):
    return browser.post(FINISH, headers={"X-CSRFToken": token}, json={"credential": answer})


def test_asking_for_passkey_options_writes_no_session_row(app):
    make_user(app)
    for _ in range(25):  # more than the per-address bound on unfinished sign-ins
        stranger = app.test_client()  # no cookies kept between page views
        options(stranger)
        assert stranger.get_cookie("idp_session") is None
        cookie = stranger.get_cookie("idp_passkey")
        assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    assert session_rows(app) == 0


def test_the_challenge_in_the_cookie_signs_in_once(app, client):
    passkey = synced_passkey(app)
    token, opts = options(client)
    response = finish(client, token, passkey.get(opts))
    assert response.status_code == 200, response.text
    assert signed_in_rows(app) == 1
    assert client.get_cookie("idp_passkey") is None, "the answer clears the challenge"


def test_a_replayed_assertion_with_its_cookie_is_refused(app, client):
    """Whoever copies the answer and the cookie sent with it cannot sign in with them again."""
    passkey = synced_passkey(app)
    token, opts = options(client)
    copied_cookie = client.get_cookie("idp_passkey").value
    answer = passkey.get(opts)
    assert finish(client, token, answer).status_code == 200

    attacker = app.test_client()
    attacker_token = csrf_of(attacker.get("/signin"))
    attacker.set_cookie("idp_passkey", copied_cookie)
    replay = finish(attacker, attacker_token, answer)
    assert replay.status_code == 400 and "couldn" in replay.get_json()["error"]
    assert attacker.get_cookie("idp_session") is None
    assert signed_in_rows(app) == 1
    assert reasons(app, "passkey.failed") == ["challenge_used"]

    # The same browser sending both again fares no better.
    client.set_cookie("idp_passkey", copied_cookie)
    assert finish(client, token, answer).status_code == 400


def test_the_same_passkey_signs_in_again_with_a_new_challenge(app, client):
    passkey = synced_passkey(app)
    for browser in (client, app.test_client(), app.test_client()):
        token, opts = options(browser)
        assert finish(browser, token, passkey.get(opts)).status_code == 200
    assert signed_in_rows(app) == 3


def test_a_challenge_issued_before_the_keys_last_use_is_refused(app):
    """Two pages open, the key used on one: the other page's older challenge is spent too."""
    passkey = synced_passkey(app)
    first, second = app.test_client(), app.test_client()
    first_token, first_opts = options(first)
    second_token, second_opts = options(second)
    assert finish(second, second_token, passkey.get(second_opts)).status_code == 200
    assert finish(first, first_token, passkey.get(first_opts)).status_code == 400


def test_the_answer_needs_the_cookie(app, client):
    passkey = synced_passkey(app)
    token, opts = options(client)
    client.delete_cookie("idp_passkey")
    assert finish(client, token, passkey.get(opts)).status_code == 400
    assert signed_in_rows(app) == 0


def test_a_cookie_signed_with_another_key_is_refused(app, client, clock):
    passkey = synced_passkey(app)
    token, opts = options(client)
    forged = URLSafeSerializer("not-our-secret", salt="idp.passkey-challenge").dumps(
        {"c": opts["challenge"], "t": "2000-01-01T00:00:00", "e": "2999-01-01T00:00:00"}
    )
    client.set_cookie("idp_passkey", forged)
    assert finish(client, token, passkey.get(opts)).status_code == 400
    assert signed_in_rows(app) == 0


def test_the_challenge_expires_after_five_minutes(app, client, clock):
    passkey = synced_passkey(app)
    token, opts = options(client)
    clock.advance(minutes=5, seconds=1)
    assert finish(client, token, passkey.get(opts)).status_code == 400
    assert signed_in_rows(app) == 0


def test_the_challenge_is_bound_to_the_answer(app, client):
    """An assertion made for one browser's challenge does not pass with another's cookie."""
    passkey = synced_passkey(app)
    make_client(app)
    token, opts = options(client)
    answer = passkey.get(opts)
    options(client)  # a newer challenge replaces the one answered
    assert finish(client, token, answer).status_code == 400
    assert signed_in_rows(app) == 0


class TestOverHttps:
    @pytest.fixture
    def overrides(self):
        return {"issuer": "https://idp.example"}

    def test_the_challenge_cookie_is_host_prefixed_and_secure(self, app):
        user = make_user(app)
        passkey = SoftAuthenticator(
            origin="https://idp.example", rp_id="idp.example", backup_eligible=True, counter_step=0
        )
        give_key(app, user.id, passkey)
        browser = app.test_client()
        browser.environ_base["wsgi.url_scheme"] = "https"
        token, opts = options(browser)
        cookie = browser.get_cookie("__Host-idp_passkey", domain="localhost")
        assert cookie is not None and cookie.secure and cookie.path == "/"
        assert browser.get_cookie("idp_passkey") is None
        assert finish(browser, token, passkey.get(opts)).status_code == 200
        assert browser.get_cookie("__Host-idp_passkey", domain="localhost") is None
