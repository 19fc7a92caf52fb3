"""INSERT ... ON CONFLICT in the session's dialect: PostgreSQL and SQLite write it alike, but
SQLAlchemy builds it from each dialect's own `insert` (built once per dialect where it is hot:
idp.driver_statements.OneRowWrite takes the builder)."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def dialect_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """`dialect`'s INSERT into `table`, which has `on_conflict_do_update`/`_do_nothing`."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
