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
