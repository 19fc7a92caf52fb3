"""JWT access tokens revoked before their expiry, by `jti` (RFC 9068 with RFC 7009).

A JWT access token is verified without the database, so revoking one records its `jti`
until the token would have expired anyway; verification consults the list only for tokens
that are otherwise valid, and housekeeping deletes entries once they expire.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import DateTime, String, Table, exists, select
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from idp.extensions import Model, db
from idp.models.upsert import dialect_insert


class RevokedAccessToken(Model):
    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)

    @classmethod
    def record(cls, entries: Iterable[tuple[str, datetime]]) -> int:
        """Add (jti, expires_at) pairs; one already listed is left alone. Caller commits."""
        rows = [{"jti": jti, "expires_at": at} for jti, at in entries]
        if not rows:
            return 0
        table = cast("Table", cls.__table__)
        dialect = db.session.get_bind().dialect.name
        statement = dialect_insert(dialect, table).values(rows).on_conflict_do_nothing()
        db.session.execute(statement)
        return len(rows)

    @classmethod
    def listed(cls, jti: str) -> ColumnElement[bool]:
        """EXISTS for this jti, to ask in the same statement as the token's user."""
        return exists(select(cls.jti).where(cls.jti == jti))
