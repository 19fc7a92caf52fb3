"""Is this worker able to serve: database, signing key, rate-limit store; each within a deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from sqlalchemy import Engine, text

from idp.config import Settings
from idp.oidc.keys import KeyStore

log = logging.getLogger(__name__)
# A load balancer polls every second or so; an answer later than this is as bad as none.
TIMEOUT_SECONDS = 1.0
DEFAULT_ALG = "RS256"  # what every client gets unless it registered another


@dataclass(frozen=True, slots=True)
class Readiness:
    """Each check's result: "ok", "skipped" or a short reason (no message: it may name hosts)."""

    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        """True when no check failed."""
        return all(result in ("ok", "skipped") for result in self.checks.values())


class _Probe:
    """Runs a blocking check on a daemon thread, at most one at a time.

    A hung connect (a firewall dropping packets) then costs the caller the deadline, not a
    worker, and a second poll does not pile another thread on the first.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.busy = False

    def start(self, check: Callable[[], object]) -> tuple[threading.Event, dict[str, str]] | None:
        """Run `check` in the background; None if the previous one has not returned yet."""
        with self.lock:
            if self.busy:
                return None
            self.busy = True
        done, result = threading.Event(), {}

        def run() -> None:
            try:
                check()
                result["value"] = "ok"
            except Exception as exc:  # any failure means not ready; the type says which
                result["value"] = f"failed: {type(exc).__name__}"
            finally:
                with self.lock:
                    self.busy = False
                done.set()

        threading.Thread(target=run, name=f"readyz-{self.name}", daemon=True).start()
        return done, result


class ReadinessChecks:
    """One app's checks; `run()` answers in about TIMEOUT_SECONDS at most."""

    def __init__(self, settings: Settings, *, keys: KeyStore) -> None:
        self.keys = keys
        self.database = _Probe("database")
        self.redis: redis.Redis | None = None
        url = settings.ratelimit_storage_url
        if url.startswith(("redis://", "rediss://")):
            self.redis = redis.Redis.from_url(
                url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
            )
        self.redis_probe = _Probe("redis")
        self.last: dict[str, str] = {}

    def run(self, engine: Engine) -> Readiness:
        """Check everything side by side; a check still running from an earlier call fails."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        started = {"database": self.database.start(lambda: _select_one(engine))}
        if self.redis is not None:
            started["redis"] = self.redis_probe.start(self.redis.ping)
        checks = {"database": "", "signing_key": self._signing_key(), "redis": "skipped"}
        for name, handle in started.items():
            if handle is None:
                checks[name] = "failed: still running"
                continue
            done, result = handle
            done.wait(max(0.0, deadline - time.monotonic()))
            checks[name] = result.get("value", "failed: timeout")
        self._log_changes(checks)
        return Readiness(checks)

    def _signing_key(self) -> str:
        try:
            self.keys.signing_key(DEFAULT_ALG)
        except Exception as exc:  # missing, unreadable or unparsable: not ready either way
            return f"failed: {type(exc).__name__}"
        return "ok"

    def _log_changes(self, checks: dict[str, str]) -> None:
        """Log a check when its result changes (or first fails), not on every poll."""
        for name, result in checks.items():
            previous, ok = self.last.get(name), result in ("ok", "skipped")
            if previous != result and (previous is not None or not ok):
                log.log(logging.INFO if ok else logging.WARNING, "readiness %s: %s", name, result)
        self.last = checks


def _select_one(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
