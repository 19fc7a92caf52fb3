"""Browser sessions: opaque HttpOnly cookie, stored hashed, new id at sign-in, idle and absolute."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from idp.extensions import db
from idp.models.hashing import sha256_hex
from idp.models.session import SessionRecord
from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
)


def signed_in(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    # A request too long to carry in the URL is the first thing that keeps a row for this
    # browser (random values: the carried form is compressed).
    long = {"state": secrets.token_urlsafe(1500), "nonce": secrets.token_urlsafe(1500)}
    flow = SignInFlow(client, RelyingParty(client, secret=client_secret, **long))
    flow.start()
    before = client.get_cookie("idp_session").value
    flow.complete(secret)
    return before, client.get_cookie("idp_session")


def test_the_session_id_changes_at_sign_in_and_is_stored_hashed(app, client):
    before, cookie = signed_in(app, client)
    assert cookie.value != before, "session fixation: the id must change at sign-in"
    assert cookie.http_only and cookie.same_site == "Lax"
    with app.app_context():
        ids = set(db.session.scalars(select(SessionRecord.id_hash)))
        assert sha256_hex(cookie.value) in ids and cookie.value not in ids
        assert sha256_hex(before) not in ids, "the pre-sign-in record must be gone"


def test_idle_and_absolute_lifetimes_end_the_session(app, client, clock):
    signed_in(app, client)
    clock.advance(minutes=119)
    assert client.get("/account/security").status_code == 200
    clock.advance(minutes=121)
    assert client.get("/account/security").status_code == 302, "idle lifetime"


def test_absolute_lifetime(app, client, clock):
    signed_in(app, client)
    for _ in range(11):
        clock.advance(minutes=59)
        assert client.get("/account/security").status_code == 200  # active: idle not reached
    clock.advance(minutes=72)  # 12 h 1 min in all, never idle for 2 h
    assert client.get("/account/security").status_code == 302, "absolute lifetime (12 h)"


def test_sign_out_ends_the_session(app, client):
    signed_in(app, client)
    page = client.get("/account/security")
    client.post("/logout", data={"csrf_token": csrf_of(page), "confirm": "yes"})
    assert client.get("/account/security").status_code == 302
