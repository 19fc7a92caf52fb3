"""Forgot password: same answer for everyone, a 30-minute single-use link, MFA still required."""

from __future__ import annotations

import re

from sqlalchemy import select

from idp.extensions import db
from idp.models.mail_message import MailMessage
from idp.models.password_reset_request import PasswordResetRequest
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    commits,
    csrf_of,
    deliver_mail,
    latest_mail,
    make_client,
    reset_link_in_mail,
    submit,
    totp_now,
)

NEW_PASSWORD = "quiet-lantern-harbor-58"


def test_the_answer_is_the_same_whether_or_not_the_account_exists(app, client, ada):
    known = submit(client, "/signin/forgot", {"email": "ada@example.com"})
    unknown = submit(client, "/signin/forgot", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda text: re.sub(r'(value|content)="[^"]+"', "", text)  # noqa: E731 - CSRF tokens
    assert strip(known.text) == strip(unknown.text)
    assert "reset the password" in latest_mail(app, "ada@example.com")


def test_asking_costs_one_commit_whether_or_not_the_account_exists(app, client, ada):
    """Time must not tell either: the same transactions on both paths, and no mail server."""
    page = client.get("/signin/forgot")
    with commits(app) as seen:
        for email in ("ada@example.com", "nobody@example.com"):
            client.post("/signin/forgot", data={"csrf_token": csrf_of(page), "email": email})
            seen.append(email)
    assert seen == ["commit", "ada@example.com", "commit", "nobody@example.com"]


def test_known_and_unknown_addresses_cost_the_same_statements(app, client, ada):
    """Whether the account exists is the worker's business: the request runs the same
    statements for both, so its time cannot tell them apart (bench.enumeration_timing)."""
    from tests.web.test_sql_budget import counting

    page = client.get("/signin/forgot")
    sent: dict[str, list[str]] = {}
    for email in ("ada@example.com", "nobody@example.com"):
        with counting(app) as counter:
            counter.start(email)
            client.post("/signin/forgot", data={"csrf_token": csrf_of(page), "email": email})
        sent[email] = [" ".join(s.split()) for s in counter.rows[0][1]]
    assert sent["ada@example.com"] == sent["nobody@example.com"]
    assert any(
        s.startswith("INSERT INTO password_reset_requests") for s in sent["nobody@example.com"]
    )


def test_the_worker_mails_existing_accounts_only_and_forgets_what_was_typed(app, client, ada):
    for email in ("ada@example.com", "nobody@example.com"):
        submit(client, "/signin/forgot", {"email": email})
    deliver_mail(app)
    with app.app_context():
        handled = db.session.scalars(select(PasswordResetRequest)).all()
        assert [(r.status, r.email, r.rid) for r in handled] == [("sent", "", None)] * 2
        mailed = db.session.scalars(select(MailMessage.recipient)).all()
    assert mailed == ["ada@example.com"]


def test_reset_needs_the_second_factor_then_ends_sessions(app, client, ada, clock):
    _, secret = ada
    other = app.test_client()
    _, client_secret = make_client(app)
    SignInFlow(other, RelyingParty(other, secret=client_secret)).authorize_and_exchange(secret)
    assert other.get("/account/security").status_code == 200

    submit(client, "/signin/forgot", {"email": "ada@example.com"})
    link = reset_link_in_mail(app)
    page = client.get(link)
    assert "Confirm it" in page.text and "password" not in re.findall(r'type="(\w+)"', page.text)
    clock.advance(seconds=30)
    proven = client.post(
        link, data={"csrf_token": csrf_of(page), "code": totp_now(secret, app=app)}
    )
    assert proven.status_code == 302
    weak = submit(client, link, {"password": "password"})
    assert weak.status_code == 400 and "different password" in weak.text
    done = submit(client, link, {"password": NEW_PASSWORD})
    assert done.status_code == 302 and done.location == "/signin"

    assert other.get("/account/security").status_code == 302, "old sessions must end"
    assert client.get(link).status_code == 400, "the link works once"
    clock.advance(seconds=30)
    flow = SignInFlow(client, RelyingParty(client, secret=client_secret), password=NEW_PASSWORD)
    assert "code" in flow.authorize_and_exchange(secret).params
    old = SignInFlow(
        app.test_client(), RelyingParty(client, secret=client_secret), password=PASSWORD
    )
    old.start()
    assert old.password().status_code == 401


def test_the_link_expires_after_30_minutes(app, client, ada, clock):
    submit(client, "/signin/forgot", {"email": "ada@example.com"})
    link = reset_link_in_mail(app)
    clock.advance(minutes=30)
    response = client.get(link)
    assert response.status_code == 400 and "expired" in response.text
