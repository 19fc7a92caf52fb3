"""Times as people read them: in their own time zone (IANA, from their browser), the zone named.

Stored times are naive UTC. A user with no zone saved, or one this host doesn't know, reads UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import format_date, format_datetime

MAX_ZONE_LENGTH = 64  # users.time_zone; the longest IANA name is about 30


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_zone(name: object) -> str | None:
    """`name` if it is an IANA time zone this host knows (`America/New_York`), else None."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_ZONE_LENGTH:
        return None
    return name if name in _known() else None


def _tz(zone: str | None) -> tzinfo:
    known = valid_zone(zone)
    return ZoneInfo(known) if known else UTC


def in_zone(at: datetime, zone: str | None) -> datetime:
    """A naive-UTC time as the wall clock in `zone` shows it (UTC when unknown)."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    return aware.astimezone(_tz(zone))


def zone_label(local: datetime) -> str:
    """The zone as clocks name it: `EST`, `CET`; `UTC-03` where the zone has no abbreviation."""
    name = local.tzname() or "UTC"
    return f"UTC{name}" if name[0] in "+-" else name


def written(at: datetime, *, zone: str | None, locale: str) -> str:
    """`30 Nov 2026, 16:05 EST` (`30 nov 2026, 16:05 EST` in Spanish)."""
    local = in_zone(at, zone)
    return f"{format_datetime(local, 'd MMM y, HH:mm', locale=locale)} {zone_label(local)}"


def written_date(at: datetime, *, zone: str | None, locale: str) -> str:
    """`30 Nov 2026`: the day it was where the user is."""
    return format_date(in_zone(at, zone).date(), "d MMM y", locale=locale)


def written_long(at: datetime, *, zone: str | None, locale: str) -> str:
    """Mail prose: `November 30, 2026, 16:05 EST` (`30 de noviembre de 2026, 16:05 EST`)."""
    local = in_zone(at, zone)
    return f"{format_date(local.date(), 'long', locale=locale)}, {local:%H:%M} {zone_label(local)}"
