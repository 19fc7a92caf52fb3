"""What each scope lets an app see, in the user's words: the consent page and the account page."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

SCOPE_DESCRIPTIONS = {
    "openid": _l("Confirm who you are"),
    "profile": _l("Your name and profile details"),
    "email": _l("Your email address"),
    "offline_access": _l("Stay connected when you're not using it"),
    "roles": _l("Your roles (for example agent or customer)"),
}


def describe(scopes: Iterable[str]) -> list[tuple[str, LazyString | str]]:
    """Each scope with its description; a scope without one is shown by its name."""
    return [(scope, SCOPE_DESCRIPTIONS.get(scope, scope)) for scope in scopes]
