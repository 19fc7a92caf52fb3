"""A "forgot password" request, queued as it was asked: the worker looks the address up.

The request writes this row whatever was typed, so neither the time it takes nor the
statements it runs say whether an account exists; the reset row, the link and the mail are
the worker's (idp.authn.password_reset.handle_request).
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import Model
from idp.models.delivery_queue import FAILED, QUEUED, SENT, Queued

__all__ = ["FAILED", "QUEUED", "SENT", "PasswordResetRequest"]


class PasswordResetRequest(Queued, Model):
    __tablename__ = "password_reset_requests"
    # The worker's one query: due requests, oldest first.
    __table_args__ = (Index("ix_password_reset_requests_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What was typed; blanked once handled (an address, maybe of no account: personal data).
    email: Mapped[str] = mapped_column(String(320))
    # The sign-in the reset should end in, its language and its client's branding.
    rid: Mapped[str | None] = mapped_column(Text, nullable=True)  # a signed request: long
    locale: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
