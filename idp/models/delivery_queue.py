"""What every queue the worker drains shares: status, attempts, a lease, and the claim query."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from idp.clock import now
from idp.extensions import db

QUEUED, SENT, FAILED = "queued", "sent", "failed"


class Queued:
    """Columns and queries of a durable outbox row (mail, logout tokens)."""

    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # When a worker may next try; a claim moves it forward by the lease, so a worker that dies
    # mid-delivery leaves the row to be tried again once the lease runs out.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    # Which claim owns the current attempt: a worker whose lease ran out can't overwrite the next.
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)

    @classmethod
    def claim_due(cls, *, now: datetime, lease: timedelta, claim: str, limit: int) -> list[Any]:
        """Take up to `limit` due rows for one attempt each; never one another worker holds."""
        model: Any = cls
        due = (
            select(model.id)
            .where(model.status == QUEUED, model.next_attempt_at <= now)
            .order_by(model.next_attempt_at, model.id)
            .limit(limit)
        )
        taking = update(model).values(
            claim=claim, attempts=model.attempts + 1, next_attempt_at=now + lease
        )
        if db.session.get_bind().dialect.name == "postgresql":
            # Rows another worker has locked are skipped, not waited for; ours stay locked until
            # the commit, after which the lease keeps them out of everyone else's `due`.
            ids = list(db.session.scalars(due.with_for_update(skip_locked=True)))
            taking = taking.where(model.id.in_(ids))
        else:
            # SQLite has no row locks but runs one writer at a time: the conditional UPDATE
            # re-checks "still due" under the write lock, so two workers never take one row.
            taking = taking.where(
                model.id.in_(due.scalar_subquery()),
                model.status == QUEUED,
                model.next_attempt_at <= now,
            )
        db.session.execute(taking.execution_options(synchronize_session=False))
        db.session.commit()
        return list(
            db.session.scalars(select(model).where(model.claim == claim).order_by(model.id))
        )

    @classmethod
    def each_due(
        cls, *, lease: timedelta, limit: int, stop: threading.Event | None = None
    ) -> Iterator[tuple[Any, str]]:
        """Every row due now with its claim, taken `limit` at a time (claim_due), until none is
        due or `stop` is set (looked at between batches)."""
        while stop is None or not stop.is_set():
            claim = secrets.token_hex(16)
            batch = cls.claim_due(now=now(), lease=lease, claim=claim, limit=limit)
            if not batch:
                return
            for row in batch:
                yield row, claim

    @classmethod
    def settle(cls, row_id: int, claim: str, values: dict[str, Any]) -> str:
        """Record an attempt's outcome and release the claim; the row's status after it.

        Only the claim's owner records it: after a lost lease, another worker's outcome stands.
        """
        model: Any = cls
        db.session.execute(
            update(model)
            .where(model.id == row_id, model.claim == claim)
            .values(claim=None, **values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return str(values.get("status", QUEUED))

    @classmethod
    def count_queued(cls) -> int:
        """Rows waiting for the worker (retries included)."""
        model: Any = cls
        return db.session.scalar(select(func.count()).where(model.status == QUEUED)) or 0
