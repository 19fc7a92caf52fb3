"""Flask-Limiter that says when it loses and regains its shared storage (Redis)."""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context
from flask_limiter import Limiter

from idp.config import Settings

log = logging.getLogger(__name__)
# Redis refusing or hanging costs a request at most this long before the fallback takes over.
REDIS_TIMEOUT_SECONDS = 1.0


def ratelimit_storage_options(settings: Settings) -> dict[str, Any]:
    """RATELIMIT_STORAGE_OPTIONS: short Redis socket timeouts (the default waits forever)."""
    if urlsplit(settings.ratelimit_storage_url).scheme.startswith("redis"):
        return {
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
        }
    return {}


class AuditedLimiter(Limiter):
    """A Limiter whose switches to and from in-process counting are logged and audited.

    With RATELIMIT_IN_MEMORY_FALLBACK_ENABLED, Flask-Limiter 4 flips `_storage_dead` when its
    storage fails and back when a periodic check succeeds; the property observes that flip.
    (tests/web/test_rate_limit_fallback.py pins the attribute name.)
    """

    _transition = threading.Lock()

    def init_app(self, app: Flask) -> None:
        """Bind to an app; its storage starts out presumed reachable."""
        self.__dict__["_idp_storage_dead"] = False
        super().init_app(app)

    @property
    def _storage_dead(self) -> bool:
        return self.__dict__.get("_idp_storage_dead", False)

    @_storage_dead.setter
    def _storage_dead(self, dead: bool) -> None:
        with self._transition:
            changed = dead != self._storage_dead
            self.__dict__["_idp_storage_dead"] = dead
        if changed and has_app_context():
            _announce(dead)

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        try:
            super()._check_request_limit(callable_name, in_middleware)
        except self.storage.base_exceptions:
            # Flask-Limiter falls back only if this request is the one that finds the storage
            # dead; a request already counting there when another thread flipped the flag
            # re-raised the storage error as a 500. It counts in memory like the rest.
            if not (self._in_memory_fallback_enabled and self._storage_dead):
                raise
            self.context.seen_limits.clear()
            super()._check_request_limit(callable_name, in_middleware)


class PerAppLimiter(Limiter):
    """The one limiter views decorate: it holds the declarations, each app holds its own state.

    `@limiter.limit(...)` runs once, at import, so the declarations (which view has which limit,
    which blueprint is exempt) are shared. Everything an app's settings decide (enabled or not,
    the storage and its counts, the fallback) lives in an `AuditedLimiter` built per app and kept
    in `app.extensions`: two apps in one process (tests, the CLI beside a server) never share
    counts or switch each other's limits on or off.
    """

    def init_app(self, app: Flask) -> None:
        """Give the app its own limiter over the shared declarations."""
        own = AuditedLimiter(key_func=self._key_func)
        own.limit_manager = self.limit_manager
        own._marked_for_limiting = self._marked_for_limiting
        own._request_filters = self._request_filters
        app.extensions[EXTENSION] = own
        own.init_app(app)

    def identify_request(self) -> str:
        """The current app's answer (the endpoint), as decorated views ask this object."""
        return limiter_of(current_app).identify_request()

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        # Decorated views call this on the shared object; count in the serving app's limiter.
        limiter_of(current_app)._check_request_limit(callable_name, in_middleware)


EXTENSION = "idp.limiter"


def limiter_of(app: Flask) -> AuditedLimiter:
    """The app's own limiter: its storage, counts and fallback state."""
    return app.extensions[EXTENSION]


def _announce(dead: bool) -> None:
    """Log and audit the switch; the audit row is best effort (the database may be down too)."""
    from idp import audit
    from idp.extensions import db

    event = "ratelimit.storage_unavailable" if dead else "ratelimit.storage_recovered"
    if dead:
        log.warning("rate limit storage unreachable: counting in this process until it is back")
    else:
        log.warning("rate limit storage reachable again: counting there")
    try:
        audit.record(event)
    except Exception:
        db.session.rollback()
        log.warning("could not audit %s", event, exc_info=True)
