"""How the app reaches its database: bounded waits, so an outage answers 503 within seconds."""

from __future__ import annotations

import logging
import select
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from flask import has_request_context, request
from sqlalchemy import CursorResult, Executable, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool

from idp.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent the request being answered: what the audit log keeps of them."""

    ip: str | None
    user_agent: str | None


# A request answered before Flask (idp.web.protocol_shortcut): no Flask request context, but
# the same one unit of work, committed once at its end, and the same caller in the audit log.
_request_outside_flask: ContextVar[Caller | None] = ContextVar("idp_request", default=None)


@contextmanager
def request_outside_flask(caller: Caller) -> Iterator[None]:
    """Within: services and audit events leave the commit to the request, as in Flask's."""
    token = _request_outside_flask.set(caller)
    try:
        yield
    finally:
        _request_outside_flask.reset(token)


def in_request() -> bool:
    """Whether an HTTP request's unit of work is open (Flask's, or one answered before it)."""
    return has_request_context() or _request_outside_flask.get() is not None


def current_caller() -> Caller | None:
    """The sender of the request being answered, if any."""
    if has_request_context():
        return Caller(request.remote_addr, (request.user_agent.string or "")[:400])
    return _request_outside_flask.get()


def engine_options(settings: Settings) -> dict[str, Any]:
    """SQLALCHEMY_ENGINE_OPTIONS: connect, statement and pool-wait timeouts for the URL's driver.

    Without them a hung database holds every worker until gunicorn kills it (about 40 s).
    """
    connect = settings.db_connect_timeout_seconds
    # A checkout waits no longer for a pooled connection than for a new one. No pre-ping
    # (a round trip per checkout): `_drop_closed_connections` finds dropped ones for free.
    # hide_parameters: a failed statement's error (logged, and in tracebacks) would otherwise
    # carry its bound values: password hashes, token digests, emails.
    options: dict[str, Any] = {
        "pool_pre_ping": False,
        "pool_timeout": connect,
        "hide_parameters": True,
    }
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        # connect_args replace the URL's own `options` (tests set search_path there): keep both.
        server = url.query.get("options", "")
        server = server if isinstance(server, str) else " ".join(server)
        statement = f"-c statement_timeout={settings.db_statement_timeout_ms}"
        options["connect_args"] = {
            "connect_timeout": connect,
            "options": f"{server} {statement}".strip(),
        }
    elif url.get_backend_name() == "sqlite":
        # SQLite's only wait is for another writer's lock.
        options["connect_args"] = {"timeout": connect}
        del options["pool_timeout"]  # in-memory SQLite uses a pool that takes none
    return options


def changed_rows(statement: Executable) -> int:
    """Run an INSERT, UPDATE or DELETE in the session; how many rows it changed."""
    from idp.extensions import db

    # Session.execute is typed as returning a Result; DML gives a CursorResult, with rowcount.
    return cast("CursorResult[Any]", db.session.execute(statement)).rowcount


def commit_unless_in_request() -> None:
    """End a service's unit of work: in a request, nothing (the request commits once, at the
    end, with its audit events: `idp.web.session` save_session); outside one (CLI, worker), now."""
    from idp.extensions import db

    if not in_request():
        db.session.commit()


def rollback_quietly() -> None:
    """End a transaction whose connection failed; a dead connection may refuse even that."""
    from idp.extensions import db

    try:
        db.session.rollback()
    except Exception as error:  # the pool replaces the connection either way
        log.debug("rollback after a failed connection: %s", error)


@event.listens_for(Pool, "checkout")
def _drop_closed_connections(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Replace a pooled PostgreSQL connection the server has closed, without a round trip.

    An idle connection has nothing to read unless the server ended it (a restart, a
    terminated backend, idle timeouts): then the socket is readable (the FATAL notice, or
    EOF). Raising DisconnectionError makes the pool connect afresh, as pool_pre_ping would.
    A connection dropped without a word (a network partition) fails its first statement:
    the request answers 503 and the pool, invalidated, reconnects for the next one.
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)  # psycopg 3 only; SQLite has no socket
    if pgconn is None:
        return
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("connection closed")
    try:
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
    except (OSError, ValueError) as error:
        raise DisconnectionError(str(error)) from error
    if readable:
        raise DisconnectionError("the server closed the connection")
