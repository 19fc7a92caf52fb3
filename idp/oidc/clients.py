"""Registered clients, cached in each worker: /token and /userinfo no longer read them per request.

Every ORM change to a client (the admin console and API, the CLI, tests) moves the `clients`
counter of `cache_versions` in the same transaction and empties this process's caches at
once; other workers and hosts read the counter at most every CHECK_SECONDS and empty theirs
when it moved. A change made with a bulk statement must call `bump(connection)` itself.
"""

from __future__ import annotations

import threading
import time
from itertools import chain
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from idp.models.cache_version import CLIENTS, CacheVersion
from idp.models.client import Client

# How stale another worker's view of a client may be (a disabled client, a rotated secret).
CHECK_SECONDS = 1.0
MAX_ENTRIES = 1000  # client_ids are ours, but bound the dict anyway
_generation = 0  # moved by every client change flushed in this process


class ClientCache:
    """Read-only copies of enabled clients by client_id, for one app."""

    def __init__(self) -> None:
        self._entries: dict[str, Client] = {}
        self._generation = -1
        self._version: int | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def get(self, client_id: str) -> Client | None:
        """The enabled client, a copy outside any session: read it, never change it."""
        self._drop_if_stale()
        found = self._entries.get(client_id)
        if found is not None:
            return found
        generation = _generation  # read before the row: a change meanwhile drops the copy
        client = Client.by_client_id(client_id)
        if client is None:
            return None  # unknown ids are not cached: anyone may send them
        copy = Client(**{c.key: _copied(getattr(client, c.key)) for c in _COLUMNS})
        with self._lock:
            if generation == _generation:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[client_id] = copy
        return copy

    def _drop_if_stale(self) -> None:
        if self._generation != _generation:
            with self._lock:
                self._entries.clear()
                self._generation = _generation
        at = time.monotonic()
        if at - self._checked_at < CHECK_SECONDS:
            return
        version = CacheVersion.current(CLIENTS)
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
            self._checked_at = at


def bump(connection: Any) -> None:
    """Tell every worker that clients changed (in the changing transaction)."""
    global _generation
    _generation += 1
    CacheVersion.bump(connection, CLIENTS)


def _copied(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


@event.listens_for(Session, "after_flush")
def _clients_changed(session: Session, _: Any) -> None:
    """Any client added, changed or deleted in this flush: move the counter with it."""
    changed = chain(session.new, session.dirty, session.deleted)
    if any(isinstance(item, Client) for item in changed):
        session.info["idp.clients_changed"] = True
        bump(session.connection())


@event.listens_for(Session, "after_commit")
def _clients_committed(session: Session) -> None:
    """Once committed, drop this process's copies again: a reader may have refetched the old row."""
    global _generation
    if session.info.pop("idp.clients_changed", False):
        _generation += 1


_COLUMNS = Client.__mapper__.column_attrs
