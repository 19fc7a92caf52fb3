"""`idp prune` deletes what expired and keeps what still counts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, func, select

from idp.extensions import db
from idp.models.email_code import EmailCode
from idp.models.session import SessionRecord
from tests.support import RelyingParty, SignInFlow, enroll_totp, make_client, make_user


def sessions(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SessionRecord))


def test_prune_removes_expired_sessions_and_keeps_live_ones(app, client, clock):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    SignInFlow(client, RelyingParty(client, secret=client_secret)).authorize_and_exchange(secret)
    runner = app.test_cli_runner()
    assert "sessions: 0" in runner.invoke(args=["prune"]).output
    assert sessions(app) == 1
    clock.advance(hours=3)
    output = runner.invoke(args=["prune"]).output
    assert "sessions: 1" in output and sessions(app) == 0
    clock.advance(days=2)
    output = runner.invoke(args=["prune"]).output
    assert "authorization_codes: 1" in output


def test_prune_deletes_in_batches_so_sqlite_is_never_locked_for_long(app, clock):
    """Each batch is its own DELETE and commit: other writers get the lock in between."""
    user = make_user(app)
    at = clock.now()
    with app.app_context():
        for n in range(9):
            expires = at - timedelta(days=2) if n < 7 else at + timedelta(minutes=5)
            db.session.add(
                EmailCode(
                    user_id=user.id,
                    purpose="signin",
                    code_hash=f"{n:064d}",
                    created_at=at - timedelta(days=3),
                    expires_at=expires,
                )
            )
        db.session.commit()
        deletes: list[int] = []
        commits: list[int] = []

        def on_execute(conn, cursor, statement, *_):
            if statement.startswith("DELETE FROM email_codes"):
                deletes.append(cursor.rowcount)

        def on_commit(conn):
            commits.append(len(deletes))

        event.listen(db.engine, "after_cursor_execute", on_execute)
        event.listen(db.engine, "commit", on_commit)
        try:
            output = app.test_cli_runner().invoke(args=["prune", "--batch-size", "3"]).output
        finally:
            event.remove(db.engine, "after_cursor_execute", on_execute)
            event.remove(db.engine, "commit", on_commit)
        left = db.session.scalars(select(EmailCode.expires_at)).all()
    assert "email_codes: 7" in output
    assert sorted(left) == [at + timedelta(minutes=5)] * 2, "live codes are kept"
    assert deletes == [3, 3, 1]
    assert {1, 2, 3} <= set(commits), "a commit after every batch"


def test_wrong_password_rows_for_any_email_expire(app, client, clock):
    """Wrong passwords for made-up emails leave rows; an outsider can't grow them for ever."""
    from idp.models.sign_in_failure import ANY_SOURCE, SignInFailure
    from tests.support import csrf_of

    page = client.get("/signin")
    for n in range(3):
        form = {"csrf_token": csrf_of(page), "email": f"x{n}@nowhere.example", "password": "no"}
        assert client.post("/signin", data=form).status_code == 401

    def sources() -> list[str]:
        with app.app_context():
            return sorted(db.session.scalars(select(SignInFailure.source)))

    assert sources() == [ANY_SOURCE] * 3 + ["127.0.0.1"] * 3
    runner = app.test_cli_runner()
    clock.advance(days=1, seconds=1)
    assert "sign_in_failures: 3" in runner.invoke(args=["prune"]).output
    assert sources() == [ANY_SOURCE] * 3, "a source's streak ends after a day"
    clock.advance(days=29)
    assert "sign_in_failures: 3" in runner.invoke(args=["prune"]).output
    assert sources() == [], "an account's streak ends after a month without failures"


def test_logout_deliveries_done_a_week_ago_go(app, clock):
    from idp.clock import now
    from idp.models.logout_delivery import QUEUED, SENT, LogoutDelivery

    with app.app_context():
        for status in (SENT, QUEUED):
            db.session.add(
                LogoutDelivery(
                    client_id="rp",
                    subject="s",
                    sid="sid",
                    reason="signed_out",
                    status=status,
                    created_at=now(),
                    next_attempt_at=now(),
                )
            )
        db.session.commit()
    clock.advance(days=8)
    assert "logout_deliveries: 1" in app.test_cli_runner().invoke(args=["prune"]).output
    with app.app_context():
        assert db.session.scalars(select(LogoutDelivery.status)).all() == [QUEUED]


def test_browsers_unseen_for_a_year_go_but_each_users_latest_stays(app, clock):
    """Known browsers don't pile up, yet the next sign-in is never mistaken for the first ever."""
    from idp.clock import now
    from idp.models.known_browser import KnownBrowser

    ada, bob = make_user(app, "ada@example.com"), make_user(app, "bob@example.com")
    with app.app_context():
        start = now()
        for user, age_in_days in ((ada, 3), (ada, 2), (ada, 1), (bob, 5)):
            seen = start - timedelta(days=age_in_days)
            db.session.add(
                KnownBrowser(
                    user_id=user.id,
                    device_hash=f"{user.id}-{age_in_days}".ljust(64, "0"),
                    first_seen_at=seen,
                    last_seen_at=seen,
                )
            )
        db.session.commit()
    clock.advance(days=300)
    assert "known_browsers: 0" in app.test_cli_runner().invoke(args=["prune"]).output
    clock.advance(days=101)
    assert "known_browsers: 2" in app.test_cli_runner().invoke(args=["prune"]).output
    with app.app_context():
        left = db.session.scalars(select(KnownBrowser.device_hash).order_by(KnownBrowser.id))
        assert list(left) == [f"{ada.id}-1".ljust(64, "0"), f"{bob.id}-5".ljust(64, "0")]
