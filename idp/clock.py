"""The one clock the whole app reads, so tests move time instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app, has_app_context


class Clock:
    """Wall-clock time in naive UTC, with an offset tests can move."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        """Current naive-UTC time plus the offset."""
        return datetime.now(UTC).replace(tzinfo=None) + self.offset

    def advance(self, **delta: float) -> None:
        """Move time forward (tests only)."""
        self.offset += timedelta(**delta)


_system = Clock()


def now() -> datetime:
    """Current time from the app's clock (naive UTC)."""
    if has_app_context():
        return current_app.extensions.get("idp.clock", _system).now()
    return _system.now()


def epoch(at: datetime) -> int:
    """A naive-UTC datetime as integer seconds since the epoch."""
    return int(at.replace(tzinfo=UTC).timestamp())


def timestamp() -> int:
    """Current time as integer seconds since the epoch."""
    return epoch(now())
