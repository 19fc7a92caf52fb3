"""Factor services called directly: an app context and a stored user, no HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from idp.extensions import db
from idp.models.user import User
from tests.support import make_user


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """The app with its context pushed, as a service call inside a request would see it."""
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture
def user(app: Flask, ctx: Flask) -> User:
    """Ada, loaded in the pushed context's session."""
    stored = db.session.get(User, make_user(app).id)
    assert stored is not None
    return stored


@pytest.fixture
def secret_key(app: Flask) -> str:
    """The app secret the factors key their hashes and seals with."""
    return app.config["SECRET_KEY"]
