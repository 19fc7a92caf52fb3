"""A message in the outbox table: queued in the request, delivered by `idp worker`."""

from __future__ import annotations

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import Model
from idp.models.delivery_queue import FAILED, QUEUED, SENT, Queued

__all__ = ["FAILED", "QUEUED", "SENT", "MailMessage"]


class MailMessage(Queued, Model):
    __tablename__ = "mail_messages"
    # The worker's one query: due messages, oldest first.
    __table_args__ = (Index("ix_mail_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    # The whole RFC 5322 message, sealed (idp.mail: it holds links and codes), and blanked
    # once the message is sent or given up on; only queued rows carry a body.
    raw: Mapped[str] = mapped_column(Text)
