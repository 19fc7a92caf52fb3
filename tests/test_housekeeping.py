"""`idp prune` deletes what expired and keeps what still counts."""

from __future__ import annotations

from sqlalchemy import func, select

from idp.extensions import db
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
