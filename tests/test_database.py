"""Engine options: bounded waits for each driver, without losing the URL's own options."""

from __future__ import annotations

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
