"""A back-channel logout token owed to a client: queued when a session ends, sent by the worker."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, Index, Integer, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import Model, db

QUEUED, SENT, FAILED = "queued", "sent", "failed"


class LogoutDelivery(Model):
    __tablename__ = "logout_deliveries"
    __table_args__ = (
        Index("ix_logout_deliveries_due", "status", "next_attempt_at"),
        Index("ix_logout_deliveries_client", "client_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    # No foreign key: the token names the user by `sub`, and is still owed after a deletion.
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subject: Mapped[str] = mapped_column(String(64))
    sid: Mapped[str] = mapped_column(String(64))
    # Why the session ended (signed_out, expired, password_reset, ...): for the admin's table.
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The `jti` of the last token sent, so an RP's log and ours can be matched.
    jti: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)

    @classmethod
    def claim_due(
        cls, *, now: datetime, lease: timedelta, claim: str, limit: int
    ) -> list[LogoutDelivery]:
        """Take up to `limit` due deliveries for one attempt each (as MailMessage.claim_due)."""
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
            ids = list(db.session.scalars(due.with_for_update(skip_locked=True)))
            taking = taking.where(cls.id.in_(ids))
        else:
            # SQLite: one writer at a time; the UPDATE re-checks "still due" under the lock.
            taking = taking.where(
                cls.id.in_(due.scalar_subquery()), cls.status == QUEUED, cls.next_attempt_at <= now
            )
        db.session.execute(taking.execution_options(synchronize_session=False))
        db.session.commit()
        return list(db.session.scalars(select(cls).where(cls.claim == claim).order_by(cls.id)))

    @classmethod
    def recent(cls, client_id: str, limit: int = 20) -> list[LogoutDelivery]:
        """The client's newest deliveries, for its admin page."""
        return list(
            db.session.scalars(
                select(cls)
                .where(cls.client_id == client_id)
                .order_by(cls.created_at.desc(), cls.id.desc())
                .limit(limit)
            )
        )

    @classmethod
    def count_queued(cls) -> int:
        """Deliveries waiting for the worker (retries included)."""
        return db.session.scalar(select(func.count()).where(cls.status == QUEUED)) or 0
