"""The password step: no user enumeration, argon2id, transparent rehash, lock-out."""

from __future__ import annotations

import re

from idp.extensions import db
from idp.models.user import User
from tests.support import RelyingParty, SignInFlow, commits, csrf_of, make_client, make_user


def attempt(client, email: str, password: str):
    page = client.get("/signin")
    return client.post(
        "/signin", data={"csrf_token": csrf_of(page), "email": email, "password": password}
    )


def visible(html: str) -> str:
    return re.sub(r'(value|content)="[^"]*"', "", html)


def test_unknown_email_and_wrong_password_look_the_same(app, client):
    make_user(app)
    unknown = attempt(client, "nobody@example.com", "whatever-it-is-1")
    wrong = attempt(client, "ada@example.com", "whatever-it-is-1")
    assert unknown.status_code == wrong.status_code == 401
    assert visible(unknown.text).replace("nobody@example.com", "X") == visible(wrong.text).replace(
        "ada@example.com", "X"
    )
    assert "don&#39;t match our records" in wrong.text


def test_a_wrong_password_costs_one_commit_whether_or_not_the_account_exists(app, client):
    make_user(app)
    page = client.get("/signin")
    with commits(app) as seen:
        for email in ("ada@example.com", "nobody@example.com"):
            form = {"csrf_token": csrf_of(page), "email": email, "password": "whatever-it-is-1"}
            assert client.post("/signin", data=form).status_code == 401
            seen.append(email)
    assert seen == ["commit", "ada@example.com", "commit", "nobody@example.com"]
    with app.app_context():
        assert User.by_email("ada@example.com").failed_logins == 1, "the count is still kept"


def test_the_page_names_the_client_and_prefills_the_login_hint(app, client):
    make_client(app)
    flow = SignInFlow(client, RelyingParty(client))
    flow.start(login_hint="ada@example.com")
    page = client.get(flow.location).text
    assert "RP Portal" in page and 'value="ada@example.com"' in page


def test_old_argon2_parameters_are_upgraded_at_sign_in(app, client):
    from argon2 import PasswordHasher

    user = make_user(app)
    with app.app_context():
        row = db.session.get(User, user.id)
        row.password_hash = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(
            "plum-orchard-velvet-93"
        )
        db.session.commit()
    assert attempt(client, "ada@example.com", "plum-orchard-velvet-93").status_code == 302
    with app.app_context():
        assert "m=1024,t=1" in db.session.get(User, user.id).password_hash


def test_ten_wrong_passwords_lock_the_account_for_a_while(app, client, clock):
    make_user(app)
    for _ in range(10):
        attempt(client, "ada@example.com", "wrong-guess-000")
    locked = attempt(client, "ada@example.com", "plum-orchard-velvet-93")
    assert locked.status_code == 429 and "paused" in locked.text
    # A wrong guess during the lock says nothing about it (no enumeration).
    assert attempt(client, "ada@example.com", "wrong-guess-000").status_code == 401
    clock.advance(minutes=15, seconds=1)
    assert attempt(client, "ada@example.com", "plum-orchard-velvet-93").status_code == 302
