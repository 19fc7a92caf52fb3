"""INSERT ... ON CONFLICT in the session's dialect: PostgreSQL and SQLite write it alike, but
SQLAlchemy builds it from each dialect's own `insert`."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite

from idp.extensions import db


def dialect_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """`dialect`'s INSERT into `table`, which has `on_conflict_do_update`/`_do_nothing`."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


class PerDialect:
    """A statement built once per dialect, for the session's: building an upsert and its cache
    key on each call cost about as much as running it."""

    def __init__(self, build: Callable[[str], Insert]) -> None:
        self._build = build
        self._built: dict[str, Insert] = {}

    def __call__(self) -> Insert:
        dialect = db.session.get_bind().dialect.name
        statement = self._built.get(dialect)
        if statement is None:
            statement = self._built[dialect] = self._build(dialect)
        return statement
