"""A message in the outbox table: queued in the request, delivered by `idp worker`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, Index, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import Model, db

QUEUED, SENT, FAILED = "queued", "sent", "failed"


class MailMessage(Model):
    __tablename__ = "mail_messages"
    # The worker's one query: due messages, oldest first.
    __table_args__ = (Index("ix_mail_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    # The whole RFC 5322 message. It holds links and codes in clear, so it is blanked once the
    # message is sent or given up on; only queued rows carry a body.
    raw: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # When a worker may next try; a claim moves it forward by the lease, so a worker that dies
    # mid-delivery leaves the message to be tried again once the lease runs out.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    # Which claim owns the current attempt: a worker whose lease ran out can't overwrite the next.
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)

    @classmethod
    def claim_due(
        cls, *, now: datetime, lease: timedelta, claim: str, limit: int
    ) -> list[MailMessage]:
        """Take up to `limit` due messages for one attempt each; never one another worker holds."""
        due = (
            select(cls.id)
            .where(cls.status == QUEUED, cls.next_attempt_at <= now)
            .order_by(cls.next_attempt_at, cls.id)
            .limit(limit)
        )
        taking = update(cls).values(
            claim=claim, attempts=cls.attempts + 1, next_attempt_at=now + lease
        )
        if db.session.get_bind().dialect.name == "postgresql":
            # Rows another worker has locked are skipped, not waited for; ours stay locked until
            # the commit, after which the lease keeps them out of everyone else's `due`.
            ids = list(db.session.scalars(due.with_for_update(skip_locked=True)))
            taking = taking.where(cls.id.in_(ids))
        else:
            # SQLite has no row locks but runs one writer at a time: the conditional UPDATE
            # re-checks "still due" under the write lock, so two workers never take one row.
            taking = taking.where(
                cls.id.in_(due.scalar_subquery()), cls.status == QUEUED, cls.next_attempt_at <= now
            )
        db.session.execute(taking.execution_options(synchronize_session=False))
        db.session.commit()
        return list(db.session.scalars(select(cls).where(cls.claim == claim).order_by(cls.id)))

    @classmethod
    def count_queued(cls) -> int:
        """Messages waiting for the worker (retries included)."""
        return db.session.scalar(select(func.count()).where(cls.status == QUEUED)) or 0
