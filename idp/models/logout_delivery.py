"""A back-channel logout token owed to a client: queued when a session ends, sent by the worker."""

from __future__ import annotations

from sqlalchemy import Index, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import Model, db
from idp.models.delivery_queue import FAILED, QUEUED, SENT, Queued

__all__ = ["FAILED", "QUEUED", "SENT", "LogoutDelivery"]


class LogoutDelivery(Queued, Model):
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
    # The `jti` of the last token sent, so an RP's log and ours can be matched.
    jti: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)

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
