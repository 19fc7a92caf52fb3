"""New-browser notice: once per browser new to the user, never on the account's first sign-in;
its "This wasn't me" link (single use) signs out everywhere and starts a password reset."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.extensions import db
from idp.mail import outbox_messages
from idp.models.known_browser import KnownBrowser
from tests.support import csrf_of, deliver_mail, enroll_totp, make_user, submit
from tests.web.test_admin_helpers import sign_in

NOTICE = "New sign-in to your account"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def notices(app: Flask) -> list[str]:
    deliver_mail(app)
    with app.app_context():
        return [m.body for m in outbox_messages() if m.subject == NOTICE]


def signed_in(client: FlaskClient) -> bool:
    return client.get("/account/security").status_code == 200


def enter(browser: FlaskClient, secret: str) -> None:
    """Sign in at the account and open it (the sign-in is complete once a page is served)."""
    sign_in(browser, "ada@example.com", secret)
    assert signed_in(browser)


def next_code(app: Flask) -> None:
    app.extensions["idp.clock"].advance(seconds=31)  # each sign-in needs a fresh TOTP code


def test_the_notice_goes_once_per_new_browser_and_not_on_the_first_sign_in(app: Flask) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    laptop = app.test_client()
    enter(laptop, secret)
    assert notices(app) == []  # the account's very first browser: nothing to compare with

    next_code(app)
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = FIREFOX
    enter(phone, secret)
    [body] = notices(app)
    assert "Firefox on Linux" in body and "127.0.0.1" in body and "UTC" in body
    assert re.search(r"http://localhost/account/not-me/\S+", body)

    submit(phone, "/logout", {"confirm": "yes"})
    for browser in (phone, laptop):
        next_code(app)
        enter(browser, secret)  # browsers seen before: no new notice
    assert len(notices(app)) == 1
    with app.app_context():
        rows = db.session.scalars(select(KnownBrowser)).all()
        assert len(rows) == 2
        # The phone signed in again in a new session: its last sighting moved on.
        [phone_row] = [row for row in rows if row.agent.startswith("Firefox")]
        assert phone_row.last_seen_at > phone_row.first_seen_at


def test_this_wasnt_me_signs_out_everywhere_and_starts_a_reset_once(app: Flask) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    laptop = app.test_client()
    enter(laptop, secret)
    next_code(app)
    intruder = app.test_client()
    enter(intruder, secret)
    [body] = notices(app)
    link = re.search(r"http://localhost(/account/not-me/\S+)", body)
    assert link is not None
    owner = app.test_client()  # the owner opens the email anywhere, signed in or not

    page = owner.get(link.group(1))
    assert page.status_code == 200 and signed_in(intruder)  # a GET (mail scanners) does nothing
    done = owner.post(link.group(1), data={"csrf_token": csrf_of(page)})

    assert done.status_code == 200 and 'id="not-me-done"' in done.text
    assert not signed_in(intruder) and not signed_in(laptop)
    deliver_mail(app)
    with app.app_context():
        subjects = [m.subject for m in outbox_messages()]
        assert any("reset" in s.lower() for s in subjects), subjects
    again = owner.post(link.group(1), data={"csrf_token": csrf_of(page)})
    assert again.status_code == 400  # single use
