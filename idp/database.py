"""How the app reaches its database: bounded waits, so an outage answers 503 within seconds."""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import CursorResult, Executable
from sqlalchemy.engine import make_url

from idp.config import Settings

log = logging.getLogger(__name__)


def engine_options(settings: Settings) -> dict[str, Any]:
    """SQLALCHEMY_ENGINE_OPTIONS: connect, statement and pool-wait timeouts for the URL's driver.

    Without them a hung database holds every worker until gunicorn kills it (about 40 s).
    """
    connect = settings.db_connect_timeout_seconds
    # A checkout waits no longer for a pooled connection than for a new one.
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_timeout": connect}
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


def rollback_quietly() -> None:
    """End a transaction whose connection failed; a dead connection may refuse even that."""
    from idp.extensions import db

    try:
        db.session.rollback()
    except Exception as error:  # the pool replaces the connection either way
        log.debug("rollback after a failed connection: %s", error)
