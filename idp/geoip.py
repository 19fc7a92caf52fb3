"""Approximate places of IP addresses, from a local MaxMind-format database (IDP_GEOIP_DATABASE).

The database (GeoLite2-City or GeoIP2-City, or any .mmdb in that record shape) is opened once
per app and kept in `app.extensions`; nothing is sent anywhere. A lookup never raises: an
address the database does not know (private ranges, loopback), a malformed one, or no database
configured give None, and the pages show the bare IP address instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import maxminddb
from flask import Flask, current_app

from idp.config import ConfigError, Settings

EXTENSION = "idp.geoip"
log = logging.getLogger(__name__)


class Places:
    """Looks addresses up in one open database, or in none (every answer None)."""

    def __init__(self, reader: maxminddb.Reader | None = None) -> None:
        self._reader = reader

    @classmethod
    def open(cls, path: str) -> Places:
        """The database at `path` (pure-Python reader over a memory map); ConfigError if bad."""
        try:
            return cls(maxminddb.open_database(path, maxminddb.MODE_MMAP))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ConfigError(f"IDP_GEOIP_DATABASE={path!r}: not a MaxMind DB file: {exc}") from exc

    def place_of(self, ip: str, *, language: str = "en") -> str | None:
        """ "City, Country", or "Country" alone, in `language` (else English); None if unknown."""
        if self._reader is None or not ip:
            return None
        try:
            record = self._reader.get(ip)
        except ValueError:  # not an address, or IPv6 against an IPv4-only database
            return None
        except Exception:  # a damaged file must not take the account page down with it
            log.warning("GeoIP lookup failed", exc_info=True)
            return None
        if not isinstance(record, Mapping):
            return None
        country = _name(record.get("country"), language)
        if country is None:
            return None
        city = _name(record.get("city"), language)
        return f"{city}, {country}" if city else country


def _name(part: Any, language: str) -> str | None:
    """`part["names"][language]`, falling back to English, as GeoLite2-City records have it."""
    names = part.get("names") if isinstance(part, Mapping) else None
    if not isinstance(names, Mapping):
        return None
    name = names.get(language) or names.get("en")
    return name if isinstance(name, str) and name else None


def init_geoip(app: Flask, settings: Settings) -> None:
    """Open the configured database once for this app (none configured: lookups give None)."""
    path = settings.geoip_database
    app.extensions[EXTENSION] = Places.open(path) if path else Places()


def place_of(ip: str, *, language: str = "en") -> str | None:
    """The current app's approximate place of `ip`, or None."""
    places: Places = current_app.extensions[EXTENSION]
    return places.place_of(ip, language=language)
