"""authn.email_code: six digits, ten minutes, the newest code only, five tries, throttled sends."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from idp.authn import email_code
from idp.authn.errors import (
    CodeExpired,
    InvalidCode,
    ResendLimited,
    ResendTooSoon,
    TooManyAttempts,
)
from idp.extensions import db
from idp.models.email_code import EmailCode
from idp.models.mail_message import MailMessage

NOW = datetime(2026, 3, 4, 5, 6, 7)


@pytest.fixture
def codes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The codes the next sends will draw, in order (secrets.randbelow, made predictable)."""
    drawn = ["123456", "654321", "111111", "222222", "333333", "444444", "555555"]
    queue = list(drawn)
    monkeypatch.setattr(secrets, "randbelow", lambda _n: int(queue.pop(0)))
    return drawn


def send(user, secret_key, at=NOW, purpose="signin") -> EmailCode:
    return email_code.send_code(user, purpose, now=at, app_secret=secret_key)


def verify(user, secret_key, code, at=NOW, purpose="signin") -> None:
    email_code.verify_code(user, purpose, code, now=at, app_secret=secret_key)


def test_the_mailed_code_works_once(ctx, user, secret_key, codes) -> None:
    entry = send(user, secret_key)
    assert entry.expires_at == NOW + timedelta(minutes=10)
    assert entry.code_hash != codes[0]  # stored keyed-hashed
    assert db.session.scalar(select(func.count()).select_from(MailMessage)) == 1
    verify(user, secret_key, " 123 456 ", at=NOW + timedelta(minutes=9))
    with pytest.raises(InvalidCode):
        verify(user, secret_key, codes[0])


def test_no_code_sent_means_no_code_accepted(ctx, user, secret_key) -> None:
    with pytest.raises(InvalidCode):
        verify(user, secret_key, "123456")


def test_a_code_expires_after_ten_minutes(ctx, user, secret_key, codes) -> None:
    send(user, secret_key)
    with pytest.raises(CodeExpired):
        verify(user, secret_key, codes[0], at=NOW + timedelta(minutes=10))


def test_five_wrong_codes_lock_the_right_one_too(ctx, user, secret_key, codes) -> None:
    send(user, secret_key)
    for _ in range(email_code.MAX_ATTEMPTS - 1):
        with pytest.raises(InvalidCode):
            verify(user, secret_key, "999999")
    with pytest.raises(TooManyAttempts):
        verify(user, secret_key, "999999")
    with pytest.raises(TooManyAttempts):
        verify(user, secret_key, codes[0])


def test_codes_are_per_purpose(ctx, user, secret_key, codes) -> None:
    send(user, secret_key, purpose="enroll")
    with pytest.raises(InvalidCode):
        verify(user, secret_key, codes[0], purpose="signin")
    verify(user, secret_key, codes[0], purpose="enroll")


def test_a_resend_waits_thirty_seconds_and_voids_the_older_code(
    ctx, user, secret_key, codes
) -> None:
    send(user, secret_key)
    with pytest.raises(ResendTooSoon):
        send(user, secret_key, at=NOW + timedelta(seconds=29))
    later = NOW + timedelta(seconds=30)
    send(user, secret_key, at=later)
    with pytest.raises(CodeExpired):  # the user is told a newer code was sent, not "wrong"
        verify(user, secret_key, codes[0], at=later)
    verify(user, secret_key, codes[1], at=later)


def test_at_most_five_codes_an_hour_whatever_the_purpose(ctx, user, secret_key, codes) -> None:
    purposes = ["signin", "enroll", "activate", "confirm_key", "signin"]
    for n, purpose in enumerate(purposes):
        send(user, secret_key, at=NOW + timedelta(minutes=n), purpose=purpose)
    with pytest.raises(ResendLimited):
        send(user, secret_key, at=NOW + timedelta(minutes=59), purpose="enroll")
    send(user, secret_key, at=NOW + timedelta(minutes=61), purpose="enroll")


def test_ensure_sent_sends_only_when_no_code_is_waiting(ctx, user, secret_key, codes) -> None:
    assert email_code.ensure_sent(user, "signin", now=NOW, app_secret=secret_key)
    assert email_code.ensure_sent(user, "signin", now=NOW + timedelta(seconds=5), app_secret="x")
    assert email_code.live_code(user, "signin", now=NOW) is not None
    assert db.session.scalar(select(func.count()).select_from(EmailCode)) == 1
    expired = NOW + timedelta(minutes=10)
    assert email_code.live_code(user, "signin", now=expired) is None
    assert email_code.ensure_sent(user, "signin", now=expired, app_secret=secret_key)
    assert db.session.scalar(select(func.count()).select_from(EmailCode)) == 2
