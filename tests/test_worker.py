"""`idp worker`: mail leaves the request path; the worker delivers it, retries and gives up."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select, text

from idp import mail
from idp.authn import password_reset
from idp.clock import Clock
from idp.extensions import db
from idp.models.mail_message import FAILED, QUEUED, SENT, MailMessage
from idp.models.password_reset_request import PasswordResetRequest
from idp.worker import LEASE, drain
from tests import test_mail
from tests.support import RelyingParty, deliver_mail, make_client, make_user, submit
from tests.test_mail import HOST, TEMPLATES, Relay, outbox_files

relay = test_mail.relay  # the aiosmtpd server fixture


@pytest.fixture
def overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """SMTP to the test's relay when it has one; plus the test's own settings (indirect)."""
    settings = dict(getattr(request, "param", {}))
    if "relay" in request.fixturenames:
        settings["smtp_url"] = request.getfixturevalue("relay").url
    return settings


@contextmanager
def relay_back(relay: Relay) -> Iterator[None]:
    """Start an SMTP server where the "down" relay's URL points."""
    controller = Controller(relay.collector, hostname=HOST, port=urlsplit(relay.url).port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


def rows(app: Flask) -> list[MailMessage]:
    """Every outbox row, oldest first, detached from the session."""
    with app.app_context():
        found = list(db.session.scalars(select(MailMessage).order_by(MailMessage.id)))
        db.session.expunge_all()
        return found


def queue(app: Flask, count: int = 1) -> None:
    """Queue `count` email-code messages to Ada."""
    with app.app_context():
        for _ in range(count):
            mail.send("ada@example.com", "email_code", **TEMPLATES["email_code"])


@pytest.mark.parametrize("relay", ["down"], indirect=True)
def test_forgot_password_answers_alike_with_the_relay_down_and_the_worker_delivers_later(
    app: Flask, relay: Relay, clock: Clock
) -> None:
    make_user(app, email="ada@example.com")
    browser = app.test_client()

    known = submit(browser, "/signin/forgot", {"email": "ada@example.com"})
    unknown = submit(browser, "/signin/forgot", {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 200
    assert rows(app) == [], "the requests are queued as asked: the worker finds the account"

    assert deliver_mail(app).retrying == 1  # the relay is still down: kept, tried again later
    [waiting] = rows(app)
    assert waiting.status == QUEUED and waiting.attempts == 1
    assert "ConnectionRefusedError" in (waiting.last_error or "")

    clock.advance(seconds=30)
    with relay_back(relay):
        assert deliver_mail(app).sent == 1
    [received] = relay.collector.received
    assert received.rcpt_tos == ["ada@example.com"]
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    assert re.search(r"http://localhost/signin/reset/\S+", text)
    [sent] = rows(app)
    assert sent.status == SENT and sent.raw == "", "the link must not stay in the database"


@pytest.mark.parametrize(
    ("relay", "overrides"),
    [("down", {"mail_max_attempts": 3, "mail_retry_seconds": 10})],
    indirect=True,
)
def test_failures_back_off_exponentially_then_the_message_is_given_up(
    app: Flask, relay: Relay, clock: Clock
) -> None:
    queue(app)
    waits = []
    for _ in range(2):
        assert deliver_mail(app).retrying == 1
        [row] = rows(app)
        waits.append(round((row.next_attempt_at - clock.now()).total_seconds()))
        assert deliver_mail(app).retrying == 0, "not due yet"
        clock.advance(seconds=waits[-1] + 1)

    assert waits == [10, 20]
    assert deliver_mail(app).failed == 1
    [row] = rows(app)
    assert (row.status, row.attempts, row.raw) == (FAILED, 3, "")
    assert "ConnectionRefusedError" in (row.last_error or "")
    clock.advance(days=1)
    assert deliver_mail(app).sent == 0, "a failed message is never tried again"


@pytest.mark.parametrize("overrides", [{"mail_max_attempts": 2, "mail_retry_seconds": 10}])
def test_a_reset_request_that_keeps_failing_is_given_up_and_forgets_what_was_typed(
    app: Flask, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request the worker can't handle (here: its handling raises) is tried again later,
    then given up, and the address typed and the sign-in it came from go with it."""
    make_user(app, email="ada@example.com")
    make_client(app)
    browser = app.test_client()
    sign_in = browser.get(RelyingParty(browser).authorize_url()).headers["Location"]
    rid = parse_qs(urlsplit(sign_in).query)["rid"][0]
    submit(browser, f"/signin/forgot?rid={rid}", {"email": "ada@example.com"})

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("the mail templates are missing")

    monkeypatch.setattr(password_reset, "handle_request", broken)
    assert deliver_mail(app).sent == 0
    [asked] = reset_requests(app)
    assert (asked.status, asked.attempts, asked.email, asked.rid) == (
        QUEUED,
        1,
        "ada@example.com",
        rid,
    )
    clock.advance(seconds=11)
    deliver_mail(app)
    [asked] = reset_requests(app)
    assert (asked.status, asked.attempts, asked.email, asked.rid) == (FAILED, 2, "", None)
    assert "RuntimeError" in (asked.last_error or "")
    assert rows(app) == []


def reset_requests(app: Flask) -> list[PasswordResetRequest]:
    with app.app_context():
        return list(db.session.scalars(select(PasswordResetRequest)))


def test_a_message_whose_worker_died_is_tried_again_after_the_lease(
    app: Flask, clock: Clock
) -> None:
    queue(app)
    with app.app_context():
        [taken] = MailMessage.claim_due(now=clock.now(), lease=LEASE, claim="dead", limit=10)
    assert taken.attempts == 1

    assert deliver_mail(app).sent == 0, "another worker holds it"
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert deliver_mail(app).sent == 1
    assert len(outbox_files(app)) == 1 and rows(app)[0].attempts == 2


def test_claims_never_overlap(app: Flask, clock: Clock) -> None:
    queue(app, 5)
    with app.app_context():
        first = MailMessage.claim_due(now=clock.now(), lease=LEASE, claim="a", limit=3)
        second = MailMessage.claim_due(now=clock.now(), lease=LEASE, claim="b", limit=3)
        third = MailMessage.claim_due(now=clock.now(), lease=LEASE, claim="c", limit=3)
        ids = [[m.id for m in batch] for batch in (first, second, third)]

    assert [len(batch) for batch in ids] == [3, 2, 0]
    assert not set(ids[0]) & set(ids[1])


def test_on_postgresql_a_row_another_worker_holds_is_skipped_not_waited_for(
    app: Flask, clock: Clock
) -> None:
    queue(app, 2)
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite takes rows by conditional UPDATE")
        first = db.session.scalars(select(MailMessage.id).order_by(MailMessage.id)).first()
        with db.engine.connect() as other:  # another worker, mid-claim
            other.execute(select(MailMessage.id).where(MailMessage.id == first).with_for_update())
            db.session.execute(text("SET LOCAL lock_timeout = '2s'"))  # fail, don't hang
            taken = MailMessage.claim_due(now=clock.now(), lease=LEASE, claim="b", limit=10)
            assert [m.id for m in taken] == [first + 1]
            other.rollback()


def test_several_workers_deliver_each_message_once(app: Flask) -> None:
    queue(app, 24)
    results = []

    def work() -> None:
        results.append(deliver_mail(app).sent)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)

    assert sum(results) == 24 and len(results) == 4
    assert len(outbox_files(app)) == 24
    assert {(row.status, row.attempts) for row in rows(app)} == {(SENT, 1)}


def test_mail_sent_with_commit_false_is_rolled_back_with_the_callers_work(app: Flask) -> None:
    with app.app_context():
        mail.send("ada@example.com", "password_changed", commit=False)
        db.session.rollback()

    assert rows(app) == []
    assert drain_via_cli(app) == "sent: 0, retrying: 0, failed: 0"


def drain_via_cli(app: Flask) -> str:
    """`idp worker --once`, as cron would run it; its one line of output."""
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_worker_once_delivers_what_is_due_and_exits(app: Flask) -> None:
    queue(app, 2)

    assert drain_via_cli(app) == "sent: 2, retrying: 0, failed: 0"
    assert len(outbox_files(app)) == 2
    with app.app_context():
        assert drain(app.extensions["idp.settings"]).sent == 0
