"""Consecutive failed password attempts per (account, source), and per account (source "*")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    UniqueConstraint,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from idp.database import changed_rows
from idp.extensions import Model, db

# The account-wide row: every source's failures, for the hard cap.
ANY_SOURCE = "*"


class SignInFailure(Model):
    __tablename__ = "sign_in_failures"
    __table_args__ = (UniqueConstraint("key_hash", "source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A hash of the email typed, known account or not: the counters never tell them apart.
    key_hash: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(DateTime)

    @classmethod
    def find(cls, key_hash: str, source: str) -> SignInFailure | None:
        """The counter for this key and source, if any."""
        return db.session.scalar(select(cls).where(cls.key_hash == key_hash, cls.source == source))

    @classmethod
    def of_sources(cls, key_hash: str, sources: tuple[str, ...]) -> dict[str, SignInFailure]:
        """The counters for this key from these sources, in one query, by source."""
        rows = db.session.scalars(_OF_SOURCES, {"key_hash": key_hash, "sources": list(sources)})
        return {row.source: row for row in rows}

    @classmethod
    def add(cls, key_hash: str, source: str, at: datetime) -> int:
        """One more failure (atomic increment, row created on first use); the new count."""
        bumped = changed_rows(
            update(cls)
            .where(cls.key_hash == key_hash, cls.source == source)
            .values(count=cls.count + 1, last_at=at)
        )
        if not bumped:
            try:
                with db.session.begin_nested():
                    db.session.add(cls(key_hash=key_hash, source=source, count=1, last_at=at))
            except IntegrityError:  # another worker created it meanwhile
                return cls.add(key_hash, source, at)
        count = db.session.scalar(
            select(cls.count).where(cls.key_hash == key_hash, cls.source == source)
        )
        return count or 1

    @classmethod
    def clear(cls, key_hash: str, sources: tuple[str, ...] | None = None) -> None:
        """End the streaks of this key: from these sources, or all of them."""
        condition = cls.key_hash == key_hash
        if sources is not None:
            condition = condition & cls.source.in_(sources)
        db.session.execute(delete(cls).where(condition))


# Built once with bound parameters (asked at every password step): building a statement and its
# cache key per request cost about as much as running it.
_OF_SOURCES = select(SignInFailure).where(
    SignInFailure.key_hash == bindparam("key_hash"),
    SignInFailure.source.in_(bindparam("sources", expanding=True)),
)
