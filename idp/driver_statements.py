"""Statements compiled once and run by the driver on a pooled connection (issue 15's hot paths).

Userinfo's read (OneRowRead) and the refresh rotation's writes (OneRowWrite) run many times a
second with nothing for SQLAlchemy's execution to add but its cost: its context, result
metadata and row objects cost more than psycopg's own work. What SQLAlchemy gives is kept
where it matters: its pool and connections, its value conversions, its errors (without the
bound values) and a dropped connection invalidated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.dml import UpdateBase

_CURSOR = "idp.one_row_read_cursor"  # in the pooled connection's info: (its driver's, a cursor)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement as one dialect's driver takes it."""

    sql: str
    order: tuple[str, ...] | None  # positional paramstyles (SQLite's qmark): the names in order
    # Per column, SQLAlchemy's conversion of the driver's value (SQLite: datetimes, JSON,
    # booleans); None when no column has one (psycopg's values are final).
    processors: tuple[Callable[[Any], Any] | None, ...] | None
    # PostgreSQL's psycopg: autocommit switched on for the read (no transaction opened), and a
    # cursor kept with the connection.
    psycopg: bool


class OneRowRead:
    """A SELECT compiled once per dialect and run on the driver's own connection: the first row
    as a plain tuple, with the values SQLAlchemy's Connection would give.

    For the hottest single reads (issue 15: /userinfo), where SQLAlchemy's execution (context,
    result metadata, row objects, connection characteristics) cost more than psycopg's own
    work. Kept from SQLAlchemy: the pool (its checkout replaces dropped connections, metrics
    count checkouts), its errors (a refused or dropped connection is an OperationalError: 503)
    without the bound values. Like an AUTOCOMMIT connection, it sees what is committed and
    opens no transaction (on PostgreSQL one round trip, not BEGIN, SELECT and ROLLBACK).
    Engine events (before_cursor_execute: PROFILE_SQL, statement counts) do not see it.
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: WeakKeyDictionary[Dialect, _Compiled] = WeakKeyDictionary()

    def first(self, engine: Engine, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row for these parameters, or None."""
        dialect = engine.dialect
        compiled = self._compiled.get(dialect) or self._compile(dialect)
        args: Any = params if compiled.order is None else [params[n] for n in compiled.order]
        error_class = dialect.loaded_dbapi.Error
        try:
            pooled = engine.raw_connection()  # checkout hooks run: see _drop_closed_connections
        except error_class as error:
            disconnect = dialect.is_disconnect(error, None, None)
            raise _wrapped(error, None, dialect, disconnect) from error
        try:
            row = _fetch_one(pooled, compiled, args)
        except BaseException as error:
            # Its state (autocommit on, a transaction aborted) is unknown: never back to the pool.
            if not isinstance(error, error_class):
                pooled.invalidate(error if isinstance(error, Exception) else None)
                raise
            disconnect = dialect.is_disconnect(error, pooled.dbapi_connection, None)
            pooled.invalidate(error)
            raise _wrapped(error, compiled.sql, dialect, disconnect) from error
        finally:
            pooled.close()
        if row is None or compiled.processors is None:
            return row
        return tuple(
            value if process is None or value is None else process(value)
            for process, value in zip(compiled.processors, row, strict=True)
        )

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.post_compile_params:
            raise TypeError("expanding parameters (IN) are rendered per call: not a OneRowRead")
        for bind in compiled.binds.values():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"{bind.key}: a parameter the driver cannot take as it is")
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self.statement.selected_columns
        )
        found = _Compiled(
            sql=compiled.string,
            order=tuple(compiled.positiontup or ()) if compiled.positional else None,
            processors=processors if any(processors) else None,
            psycopg=dialect.name == "postgresql",
        )
        self._compiled[dialect] = found
        return found


def _fetch_one(pooled: PoolProxiedConnection, compiled: _Compiled, args: Any) -> Any:
    """The first row of the read on the pooled connection's driver connection.

    psycopg: in autocommit, on a cursor kept with the connection (a new cursor sets up its
    result loaders again: ~10 us a read). SQLite: its driver opens no transaction for a SELECT;
    a cursor per read, closed at once (an unfinished SELECT would keep its read lock).
    """
    connection: Any = pooled.driver_connection  # psycopg's or sqlite3's Connection
    if not compiled.psycopg:
        cursor = connection.cursor()
        try:
            cursor.execute(compiled.sql, args)
            return cursor.fetchone()
        finally:
            cursor.close()
    cursor = _kept_cursor(pooled)
    connection.autocommit = True
    cursor.execute(compiled.sql, args)
    row = cursor.fetchone()
    connection.autocommit = False  # as the pool lent it: the ORM needs transactions
    return row


def _kept_cursor(pooled: PoolProxiedConnection) -> Any:
    """The psycopg cursor kept with a pooled connection (a new cursor sets up its loaders
    again: ~10 us a statement)."""
    connection: Any = pooled.driver_connection
    kept = pooled.info.get(_CURSOR)
    if kept is None or kept[0] is not connection:  # the pool clears info when it reconnects
        kept = pooled.info[_CURSOR] = (connection, connection.cursor())
    return kept[1]


@dataclass(frozen=True, slots=True)
class _CompiledWrite:
    """A write as one dialect's driver takes it."""

    sql: str
    order: tuple[str, ...] | None  # positional paramstyles (SQLite's qmark): the names in order
    # SQLAlchemy's conversion of a parameter for the driver (JSON; SQLite's datetimes).
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    returns: bool  # has RETURNING columns
    # Per RETURNING column, its conversion of the driver's value; None when no column has one.
    processors: tuple[Callable[[Any], Any] | None, ...] | None
    psycopg: bool


class OneRowWrite:
    """An INSERT or UPDATE compiled once per dialect and run by the driver on the session's
    connection, inside its transaction: RETURNING's first row as a plain tuple, or the count.

    For the refresh rotation's two statements (issue 15), where SQLAlchemy's execution (its
    context, the result's metadata built from the cursor's description, row objects) cost
    more than psycopg's own work. Kept from SQLAlchemy: the transaction (the session commits
    or rolls the write back with the rest of the request), the values as it converts them
    for the driver and back, statement events (before/after_cursor_execute: PROFILE_SQL, the
    SQL budget), its errors without the bound values, and a dropped connection invalidated.
    Every parameter is given at each call: a statement needing one SQLAlchemy would fill in
    (a column default, a value the statement carries) is refused when first compiled.
    """

    def __init__(
        self, statement: UpdateBase | Callable[[str], UpdateBase], *, keys: Iterable[str]
    ) -> None:
        # A callable builds the statement for a dialect's name (an upsert: each dialect's own
        # INSERT ... ON CONFLICT), once per dialect.
        self.statement = statement
        self.keys = tuple(keys)
        self._compiled: WeakKeyDictionary[Dialect, _CompiledWrite] = WeakKeyDictionary()

    def returning(self, connection: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row the write returns (None if it changed none), with the values
        SQLAlchemy would give."""
        compiled, _, rows = self._execute(connection, params)
        if not rows:
            return None
        row = tuple(rows[0])
        if compiled.processors is None:
            return row
        return tuple(
            value if process is None or value is None else process(value)
            for process, value in zip(compiled.processors, row, strict=True)
        )

    def run(self, connection: Connection, params: dict[str, Any]) -> int:
        """How many rows the write changed."""
        return self._execute(connection, params)[1]

    def _execute(
        self, connection: Connection, params: dict[str, Any]
    ) -> tuple[_CompiledWrite, int, list[Any]]:
        dialect = connection.dialect
        compiled = self._compiled.get(dialect) or self._compile(dialect)
        if compiled.binds:
            params = dict(params)
            for name, process in compiled.binds:
                params[name] = process(params[name])
        args: Any = params if compiled.order is None else [params[n] for n in compiled.order]
        pooled = connection.connection  # the session's: its transaction is begun on it
        driver: Any = pooled.driver_connection
        cursor = _kept_cursor(pooled) if compiled.psycopg else driver.cursor()
        sql = compiled.sql
        dispatch = connection.dispatch
        try:
            for listener in dispatch.before_cursor_execute:
                sql, args = listener(connection, cursor, sql, args, None, False)
            cursor.execute(sql, args)
            dispatch.after_cursor_execute(connection, cursor, sql, args, None, False)
            # All of RETURNING's rows: SQLite finishes the statement only once they are read.
            rows = cursor.fetchall() if compiled.returns else []
            return compiled, cursor.rowcount, rows
        except dialect.loaded_dbapi.Error as error:
            disconnect = dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
            if disconnect:
                connection.invalidate(error)
            raise _wrapped(error, sql, dialect, disconnect) from error
        finally:
            if not compiled.psycopg:
                cursor.close()

    def _compile(self, dialect: Dialect) -> _CompiledWrite:
        statement = self.statement
        if not isinstance(statement, UpdateBase):
            statement = statement(dialect.name)
        compiled = statement.compile(dialect=dialect, column_keys=list(self.keys))
        missing = set(compiled.binds) - set(self.keys)
        if compiled.post_compile_params or missing:
            raise TypeError(f"not a OneRowWrite: values not given at each call {missing}")
        binds = tuple(
            (name, process)
            for name, bind in compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.exported_columns
        )
        found = _CompiledWrite(
            sql=compiled.string,
            order=tuple(compiled.positiontup or ()) if compiled.positional else None,
            binds=binds,
            returns=bool(processors),
            processors=processors if any(processors) else None,
            psycopg=dialect.name == "postgresql",
        )
        self._compiled[dialect] = found
        return found


def _wrapped(error: Exception, sql: str | None, dialect: Dialect, disconnect: bool) -> Exception:
    """The DBAPI error as SQLAlchemy's Connection raises it, without the bound values."""
    return DBAPIError.instance(
        sql,
        None,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=disconnect,
        dialect=dialect,
    )
