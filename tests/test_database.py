"""Engine options: bounded waits for each driver, without losing the URL's own options."""

from __future__ import annotations

import time

import pytest

from idp.config import load_settings
from idp.database import engine_options


def options_for(url: str, **extra: int) -> dict:
    settings = load_settings({"database_url": url, "secret_key": "x", **extra}, environ={})
    return engine_options(settings)


def test_postgresql_gets_connect_and_statement_timeouts_next_to_its_own_options():
    url = "postgresql+psycopg://u@db/idp?options=-csearch_path%3Dtenant"
    options = options_for(url, db_connect_timeout_seconds=4, db_statement_timeout_ms=2500)
    assert options["connect_args"] == {
        "connect_timeout": 4,
        "options": "-csearch_path=tenant -c statement_timeout=2500",
    }
    assert options["pool_timeout"] == 4


def test_sqlite_waits_for_a_writer_no_longer_than_the_connect_timeout():
    options = options_for("sqlite:////tmp/idp.db", db_connect_timeout_seconds=2)
    assert options["connect_args"] == {"timeout": 2}


def test_no_pre_ping_round_trip_on_checkout():
    assert options_for("postgresql+psycopg://u@db/idp")["pool_pre_ping"] is False


def test_a_connection_the_server_dropped_is_replaced_at_checkout(app, client):
    """pg_terminate_backend on the pooled connection: the next request still succeeds."""
    from sqlalchemy import text

    from idp.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only: SQLite connections are not dropped by a server")
        assert client.get("/readyz").status_code == 200
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()  # back to the pool, idle
        # Gone for sure, so the pooled socket is closed when the next request checks it out.
        _terminate(db.engine, pid)
    for _ in range(3):
        assert client.get("/readyz").status_code == 200
    with app.app_context():
        assert db.session.scalar(text("SELECT pg_backend_pid()")) != pid


def test_a_failed_statement_does_not_carry_its_values_into_logs(app):
    """Errors end up in logs and tracebacks: the values bound to the statement stay out."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from idp.extensions import db

    with app.app_context():
        with pytest.raises(DBAPIError) as failure:
            db.session.execute(
                text("SELECT * FROM no_such_table WHERE x = :secret"),
                {"secret": "hunter2-token-digest"},
            )
        db.session.rollback()
    assert "no_such_table" in str(failure.value)
    assert "hunter2-token-digest" not in str(failure.value)


def _user_read():
    """A read of every kind of value /userinfo's reads return: text, boolean, JSON, datetimes,
    NULL, an EXISTS, with two parameters (SQLite binds them by position)."""
    from sqlalchemy import bindparam, exists, select

    from idp.models.revoked_access_token import RevokedAccessToken
    from idp.models.user import User

    listed = exists(
        select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == bindparam("jti"))
    )
    return select(
        User.id,
        User.email,
        User.email_verified,
        User.roles,
        User.updated_at,
        User.disabled_at,
        listed.label("listed"),
    ).where(User.subject == bindparam("subject"))


@pytest.fixture
def own_engine(app):
    """An engine of one pooled connection on the tests' database: what the read leaves behind
    is what the next checkout gets."""
    from sqlalchemy import create_engine

    from idp.database import engine_options
    from idp.extensions import db

    settings = app.extensions["idp.settings"]
    with app.app_context():
        url = db.engine.url
    options = {**engine_options(settings), "pool_size": 1, "max_overflow": 0}
    if url.get_backend_name() == "sqlite":
        del options["pool_size"], options["max_overflow"]
    engine = create_engine(url, **options)
    yield engine
    engine.dispose()


def test_a_one_row_read_gives_the_values_sqlalchemy_gives(app, own_engine):
    from datetime import datetime

    from idp.driver_statements import OneRowRead
    from idp.extensions import db
    from idp.models.revoked_access_token import RevokedAccessToken
    from tests.support import make_user

    user = make_user(app, roles=["auditor", "admin"])
    with app.app_context():
        db.session.add(RevokedAccessToken(jti="gone", expires_at=datetime(2030, 1, 1)))
        db.session.commit()
    statement = _user_read()
    read = OneRowRead(statement)
    for params in (
        {"subject": user.subject, "jti": "gone"},
        {"subject": user.subject, "jti": "kept"},
    ):
        with own_engine.connect() as connection:
            expected = tuple(connection.execute(statement, params).one())
        found = read.first(own_engine, params)
        assert found == expected
        assert [type(v) for v in found] == [type(v) for v in expected]
    assert found[2:4] == (True, ["auditor", "admin"]) and isinstance(found[4], datetime)
    assert read.first(own_engine, {"subject": "nobody", "jti": "gone"}) is None


def test_a_one_row_read_gives_its_connection_back_as_it_was_lent(app, own_engine):
    """No transaction left open, and on PostgreSQL autocommit off again: the ORM's next unit
    of work on this connection is a transaction."""
    from idp.driver_statements import OneRowRead
    from tests.support import make_user

    user = make_user(app)
    OneRowRead(_user_read()).first(own_engine, {"subject": user.subject, "jti": "x"})
    _assert_lent_as_new(own_engine)


def _assert_lent_as_new(engine) -> None:
    """The pool's connection has no transaction open and, on PostgreSQL, autocommit off."""
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        if engine.dialect.name == "postgresql":
            assert driver.autocommit is False
            assert driver.info.transaction_status.name == "IDLE"
        else:
            assert driver.in_transaction is False
    finally:
        pooled.close()


def test_a_failed_one_row_read_raises_sqlalchemys_error_without_its_values(app, own_engine):
    """The error Flask's handlers know (OperationalError: 503), no bound value in its text, and
    the connection thrown away, not lent again half-used."""
    from sqlalchemy import bindparam, column, select, table
    from sqlalchemy.exc import DBAPIError

    from idp.driver_statements import OneRowRead

    missing = table("no_such_table", column("x"))
    read = OneRowRead(select(missing.c.x).where(missing.c.x == bindparam("secret")))
    with pytest.raises(DBAPIError) as failure:
        read.first(own_engine, {"secret": "hunter2-token-digest"})
    assert "no_such_table" in str(failure.value)
    assert "hunter2-token-digest" not in str(failure.value)
    assert own_engine.pool.checkedout() == 0
    _assert_lent_as_new(own_engine)
    assert OneRowRead(_user_read()).first(own_engine, {"subject": "s", "jti": "j"}) is None


def test_an_interrupted_one_row_read_never_lends_its_connection_again(app, own_engine, monkeypatch):
    """Anything raised mid-read (a worker's timeout, a bug) leaves autocommit possibly on:
    that connection is thrown away, the error goes on unchanged."""
    from idp import driver_statements

    def interrupted(pooled, compiled, args):
        if compiled.psycopg:
            pooled.driver_connection.autocommit = True
        raise RuntimeError("interrupted")

    monkeypatch.setattr(driver_statements, "_fetch_one", interrupted)
    with pytest.raises(RuntimeError, match="interrupted"):
        driver_statements.OneRowRead(_user_read()).first(own_engine, {"subject": "s", "jti": "j"})
    monkeypatch.undo()
    assert own_engine.pool.checkedout() == 0
    _assert_lent_as_new(own_engine)


def test_a_one_row_read_on_a_connection_dropped_without_a_word_fails_once_then_reconnects(
    app, own_engine
):
    """The checkout hook cannot see this drop (it is switched off here, as a network
    partition would hide it): the read answers OperationalError, the next one reconnects."""
    from sqlalchemy import event, text
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import Pool

    from idp.database import _drop_closed_connections
    from idp.driver_statements import OneRowRead

    if own_engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite connections are not dropped by a server")
    read = OneRowRead(_user_read())
    with own_engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    _terminate(own_engine, pid)
    event.remove(Pool, "checkout", _drop_closed_connections)
    try:
        with pytest.raises(OperationalError) as failure:
            read.first(own_engine, {"subject": "s", "jti": "j"})
        assert failure.value.connection_invalidated
    finally:
        event.listen(Pool, "checkout", _drop_closed_connections)
    assert read.first(own_engine, {"subject": "s", "jti": "j"}) is None
    with own_engine.connect() as connection:
        assert connection.scalar(text("SELECT pg_backend_pid()")) != pid


def _terminate(engine, pid: int) -> None:
    """End a PostgreSQL backend from another connection and wait until it has gone
    (pg_terminate_backend only signals it)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    other = create_engine(engine.url, poolclass=NullPool)
    with other.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        for _ in range(100):
            if not connection.execute(alive, {"pid": pid}).scalar():
                break
            time.sleep(0.05)
    other.dispose()


def _token_values(**changes):
    """A tokens row of every kind of value the refresh's writes carry: text, JSON (an object
    and None), datetimes with and without microseconds, NULLs."""
    from datetime import datetime

    values = {
        "client_id": "one-row-write",
        "user_id": None,
        "family": "family-1",
        "code_id": None,
        "parent_id": None,
        "sid": "",
        "claims": {"userinfo": {"email": None}},
        "jti": None,
        "authentication": None,
        "access_token_hash": "a" * 64,
        "refresh_token_hash": None,
        "token_type": "Bearer",
        "scope": "openid",
        "issued_at": datetime(2030, 1, 2, 3, 4, 5, 123456),
        "expires_in": 60,
        "refresh_expires_at": datetime(2030, 2, 1),
    }
    return {**values, **changes}


def _tokens():
    from idp.models.token import Token

    return Token.__table__


def test_a_one_row_write_stores_and_returns_what_sqlalchemy_would(app):
    """Written by the driver or by SQLAlchemy, the rows read back the same; RETURNING gives
    the values (and types) SQLAlchemy's result gives, None when nothing matched; statement
    events see the writes (PROFILE_SQL, the SQL budget)."""
    from datetime import datetime

    from sqlalchemy import bindparam, event, insert, select, update

    from idp.driver_statements import OneRowWrite
    from idp.extensions import db

    tokens = _tokens()
    write = OneRowWrite(insert(tokens).inline(), keys=tuple(_token_values()))
    returned = (tokens.c.claims, tokens.c.authentication, tokens.c.issued_at, tokens.c.family)
    spend = (
        update(tokens)
        .where(tokens.c.access_token_hash == bindparam("hash"))
        .values(refresh_revoked_at=bindparam("at"), refresh_rotated_at=bindparam("at"))
        .returning(*returned)
    )
    spend_by_driver = OneRowWrite(spend, keys=("hash", "at"))
    at = datetime(2030, 1, 3)
    columns = [c for c in tokens.c if c.name not in ("id", "access_token_hash")]
    seen: list[str] = []

    def executed(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", executed)
        try:
            connection = db.session.connection()
            assert write.run(connection, _token_values(access_token_hash="1" * 64)) == 1
            connection.execute(insert(tokens), _token_values(access_token_hash="2" * 64))
            found = spend_by_driver.returning(connection, {"hash": "1" * 64, "at": at})
            expected = tuple(connection.execute(spend, {"hash": "2" * 64, "at": at}).one())
            nothing = spend_by_driver.returning(connection, {"hash": "none", "at": at})
            rows = [
                connection.execute(select(*columns).where(tokens.c.access_token_hash == h)).one()
                for h in ("1" * 64, "2" * 64)
            ]
        finally:
            event.remove(db.engine, "before_cursor_execute", executed)
            db.session.rollback()
    issued_at = _token_values()["issued_at"]
    assert found == expected == ({"userinfo": {"email": None}}, None, issued_at, "family-1")
    assert [type(v) for v in found] == [type(v) for v in expected]
    assert nothing is None
    assert tuple(rows[0]) == tuple(rows[1])
    assert sum(s.startswith(("INSERT", "UPDATE")) for s in seen) == 5


def test_a_one_row_write_is_the_sessions_rolled_back_or_committed_with_it(app):
    """The write runs in the session's transaction: a rollback undoes it, a commit keeps it."""
    from sqlalchemy import func, insert, select

    from idp.driver_statements import OneRowWrite
    from idp.extensions import db

    tokens = _tokens()
    write = OneRowWrite(insert(tokens).inline(), keys=tuple(_token_values()))
    mine = select(func.count()).select_from(tokens).where(tokens.c.client_id == "one-row-write")
    with app.app_context():
        write.run(db.session.connection(), _token_values(access_token_hash="3" * 64))
        db.session.rollback()
        assert db.session.scalar(mine) == 0
        write.run(db.session.connection(), _token_values(access_token_hash="4" * 64))
        db.session.commit()
        db.session.remove()
        assert db.session.scalar(mine) == 1


def test_a_failed_one_row_write_raises_sqlalchemys_error_without_its_values(app):
    """A unique violation is SQLAlchemy's IntegrityError without the bound values (the
    server's own detail names the duplicate key, as it does for SQLAlchemy's execution); the
    session rolls back and goes on."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from idp.driver_statements import OneRowWrite
    from idp.extensions import db

    write = OneRowWrite(insert(_tokens()).inline(), keys=tuple(_token_values()))
    values = _token_values(access_token_hash="5" * 64, scope="hunter2-scope")
    with app.app_context():
        write.run(db.session.connection(), values)
        with pytest.raises(IntegrityError) as failure:
            write.run(db.session.connection(), values)
        db.session.rollback()
        assert write.run(db.session.connection(), values) == 1
        db.session.rollback()
    assert "tokens" in str(failure.value)
    assert "hunter2" not in str(failure.value)


def test_a_one_row_write_built_per_dialect_runs_that_dialects_upsert(app):
    """Given a builder, the write compiles the dialect's own INSERT ... ON CONFLICT (the
    known-browser and served-client upserts): the second run updates the row the first
    inserted, and RETURNING gives the row's values either way."""
    from sqlalchemy import bindparam, func, select

    from idp.driver_statements import OneRowWrite
    from idp.extensions import db
    from idp.models.upsert import dialect_insert

    tokens = _tokens()
    built: list[str] = []

    def upsert(dialect: str):
        built.append(dialect)
        statement = dialect_insert(dialect, tokens).values(
            {name: bindparam(name) for name in _token_values()}
        )
        return statement.on_conflict_do_update(
            index_elements=["access_token_hash"], set_={"scope": statement.excluded.scope}
        ).returning(tokens.c.scope, tokens.c.family)

    write = OneRowWrite(upsert, keys=tuple(_token_values()))
    values = _token_values(access_token_hash="7" * 64)
    mine = select(func.count()).select_from(tokens).where(tokens.c.access_token_hash == "7" * 64)
    with app.app_context():
        connection = db.session.connection()
        first = write.returning(connection, values)
        second = write.returning(connection, {**values, "scope": "openid email"})
        count = db.session.scalar(mine)
        db.session.rollback()
        dialect = db.engine.dialect.name
    assert first == (values["scope"], "family-1")
    assert second == ("openid email", "family-1")
    assert count == 1
    assert built == [dialect]  # built once, for the dialect in use


def test_a_one_row_write_refuses_a_statement_needing_values_not_given(app):
    """A column default SQLAlchemy would fill in (token_type, issued_at...) is not filled in
    by the driver: refused when compiled, before anything is sent."""
    from sqlalchemy import insert

    from idp.driver_statements import OneRowWrite
    from idp.extensions import db

    partial = OneRowWrite(insert(_tokens()).inline(), keys=("client_id", "family"))
    with app.app_context(), pytest.raises(TypeError, match="not a OneRowWrite"):
        partial.run(db.session.connection(), {"client_id": "c", "family": "f"})


def test_a_one_row_write_on_a_dropped_connection_fails_once_then_reconnects(app):
    """The session's connection ended under it: OperationalError (a 503), the connection
    invalidated, and the next unit of work gets a new one."""
    from sqlalchemy import insert, text
    from sqlalchemy.exc import OperationalError

    from idp.driver_statements import OneRowWrite
    from idp.extensions import db

    write = OneRowWrite(insert(_tokens()).inline(), keys=tuple(_token_values()))
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only: SQLite connections are not dropped by a server")
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        _terminate(db.engine, pid)
        with pytest.raises(OperationalError) as failure:
            write.run(db.session.connection(), _token_values(access_token_hash="6" * 64))
        assert failure.value.connection_invalidated
        db.session.rollback()
        assert write.run(db.session.connection(), _token_values(access_token_hash="6" * 64)) == 1
        assert db.session.scalar(text("SELECT pg_backend_pid()")) != pid
        db.session.rollback()
