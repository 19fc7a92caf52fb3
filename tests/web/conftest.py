"""Fixtures the hosted-page tests share (a module may still define its own `ada`)."""

from __future__ import annotations

import pytest
from flask import Flask

from idp.models.user import User
from tests.support import enroll_totp, make_user


@pytest.fixture
def ada(app: Flask) -> tuple[User, str]:
    """A returning user with an authenticator app: (user, TOTP secret)."""
    user = make_user(app)
    return user, enroll_totp(app, user.id)
