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
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from idp.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only: SQLite connections are not dropped by a server")
        assert client.get("/readyz").status_code == 200
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()  # back to the pool, idle
        url = db.engine.url.render_as_string(hide_password=False)
        other = create_engine(url, poolclass=NullPool)
        with other.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            # pg_terminate_backend only signals the backend: wait until it has gone, so the
            # pooled socket is closed by the time the next request checks it out.
            alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            for _ in range(100):
                if not connection.execute(alive, {"pid": pid}).scalar():
                    break
                time.sleep(0.05)
        other.dispose()
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
