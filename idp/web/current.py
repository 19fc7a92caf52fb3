"""This app's parts as a request sees them: settings, the server, the signed-in user."""

from __future__ import annotations

from flask import current_app

from idp.authn.password import Passwords
from idp.config import Settings
from idp.extensions import db
from idp.models.user import User
from idp.oidc.server import Server
from idp.web import browser


def settings() -> Settings:
    """This app's settings."""
    return current_app.extensions["idp.settings"]


def server() -> Server:
    """This app's authorization server."""
    return current_app.extensions["idp.oidc"]


def passwords() -> Passwords:
    """This app's password hasher."""
    return current_app.extensions["idp.passwords"]


def user() -> User | None:
    """The user this browser's session signed in, if still active."""
    uid = browser.signed_in_user_id()
    found = db.session.get(User, uid) if uid else None
    return found if found is not None and found.is_active else None
