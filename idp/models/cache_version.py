"""A counter per cached noun: a worker that sees it move drops what it cached of that noun."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Integer, String, Table, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import Model, db

CLIENTS = "clients"


class CacheVersion(Model):
    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)

    @classmethod
    def current(cls, name: str) -> int:
        """The counter's value in the request's transaction (0 if the row is missing)."""
        return db.session.scalar(select(cls.version).where(cls.name == name)) or 0

    @classmethod
    def bump(cls, connection: Connection, name: str) -> None:
        """Move the counter in the transaction that changes what it guards."""
        table = cast("Table", cls.__table__)
        connection.execute(
            update(table).where(table.c.name == name).values(version=table.c.version + 1)
        )
