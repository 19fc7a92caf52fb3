"""Rolling upgrades: the previous release keeps writing while the new schema is in place.

Migrations expand, then contract: a column added to an existing table is nullable or has a
server default, so code that does not know it yet can still insert rows. Runs on SQLite, and on
PostgreSQL (a schema of its own) when IDP_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask_migrate import downgrade, upgrade

from idp import create_app
from idp.extensions import db
from idp.models.client import Client
from idp.models.session import SessionRecord
from idp.models.token import Token
from idp.models.user import User
from tests.conftest import TEST_DATABASE_URL, base_overrides

# Each release's newest migration: what its code knows of the schema.
PREVIOUS_RELEASES = {
    "02f5d7e": "0dab51e9b54a",  # the last release
    "06426e8 (before passkeys)": "f21befb80da9",
}


@pytest.fixture
def scratch(tmp_path: Path, _environment: dict[str, Any]) -> Iterator[Flask]:
    """An app on an empty database of its own (no migration applied)."""
    url = f"sqlite:///{tmp_path / 'scratch.db'}"
    schema = None
    if TEST_DATABASE_URL.startswith("postgresql"):
        schema = f"idp_migrations_{os.getpid()}"
        with sa.create_engine(TEST_DATABASE_URL).begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
        url = TEST_DATABASE_URL + ("&" if "?" in TEST_DATABASE_URL else "?")
        url += f"options=-csearch_path%3D{schema}"
    app = create_app(base_overrides(tmp_path, url, _environment["keys_dir"]))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if schema:
        with sa.create_engine(TEST_DATABASE_URL).begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


def _columns() -> dict[str, dict[str, dict[str, Any]]]:
    inspector = sa.inspect(db.engine)
    return {
        table: {column["name"]: column for column in inspector.get_columns(table)}
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    directory = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    return [r.revision for r in reversed(list(directory.walk_revisions()))]


def test_columns_added_to_existing_tables_are_nullable_or_have_a_server_default(scratch):
    born: dict[str, set[str]] = {}  # each table's columns at the revision that created it
    for revision in _revisions():
        upgrade(revision=revision)
        for table, columns in _columns().items():
            born.setdefault(table, set(columns))
    head = _columns()
    blocking = [
        f"{table}.{name}"
        for table, columns in head.items()
        for name, column in columns.items()
        if name not in born[table] and not column["nullable"] and column["default"] is None
    ]
    assert blocking == [], "the previous release could not insert rows without these"


def _value(column: dict[str, Any]) -> Any:
    """What the old code might have written: unique where it has to be."""
    kind = column["type"]
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 1
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 11, 28, 12, 0, 0)
    if isinstance(kind, sa.JSON):
        return []
    if isinstance(kind, sa.LargeBinary):
        return b"old"
    return secrets.token_hex(16)[: getattr(kind, "length", None) or 32]


def _insert_as_release(table: str, columns: dict[str, dict[str, Any]], refs: dict) -> Any:
    """INSERT with only the columns the old release knew (NULL left out); the new row's key."""
    values = {
        name: refs[name] if name in refs else _value(column)
        for name, column in columns.items()
        if name != "id" and (name in refs or not column["nullable"])
    }
    key = "id_hash" if table == "sessions" else "id"
    target = sa.table(table, *(sa.column(name, columns[name]["type"]) for name in {*values, key}))
    inserted = db.session.scalar(sa.insert(target).values(values).returning(target.c[key]))
    db.session.commit()
    return inserted


@pytest.mark.parametrize("release", PREVIOUS_RELEASES)
def test_the_previous_release_writes_a_sign_in_into_the_new_schema(scratch, release):
    upgrade(revision=PREVIOUS_RELEASES[release])
    known = _columns()
    upgrade()
    refs: dict[str, Any] = {}
    users = [_insert_as_release("users", known["users"], refs) for _ in range(2)]
    refs["user_id"] = users[0]
    client_pk = _insert_as_release("clients", known["clients"], refs)
    refs["client_id"] = db.session.get(Client, client_pk).client_id
    session_hash = _insert_as_release("sessions", known["sessions"], refs)
    _insert_as_release("authorization_codes", known["authorization_codes"], refs)
    token_id = _insert_as_release("tokens", known["tokens"], refs)

    # The new release reads what the old one wrote.
    ada, bob = (db.session.get(User, user_id) for user_id in users)
    assert ada.webauthn_handle and bob.webauthn_handle
    assert ada.webauthn_handle != bob.webauthn_handle  # random per row, not one constant
    assert len(ada.webauthn_handle) <= 64
    assert db.session.get(Client, client_pk).passkey_signin in (True, False)
    assert db.session.get(SessionRecord, session_hash).created_ip is None
    token = db.session.get(Token, token_id)
    assert token.user.id == ada.id and token.parent_id is None


def test_every_migration_downgrades_and_upgrades_again(scratch):
    upgrade()
    downgrade(revision="base")
    assert _columns() == {}
    upgrade()
    assert set(_columns()) == {t.name for t in db.metadata.sorted_tables}
