"""An authenticator app enrolled by a user."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    bindparam,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from idp.clock import now
from idp.driver_statements import OneRowWrite
from idp.extensions import Model, db


class TotpCredential(Model):
    __tablename__ = "totp_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # Encrypted with a key derived from the app secret: the code must be recomputable,
    # so it cannot be hashed, but a database dump alone must not yield it.
    secret_encrypted: Mapped[str] = mapped_column(String(300))
    # The last accepted time step: codes at or before it are refused (replay), across workers.
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @classmethod
    def of_user(cls, user_id: int) -> list[TotpCredential]:
        """The user's apps, oldest first."""
        return list(db.session.scalars(_OF_USER, {"user_id": user_id}))

    def spend_step(self, step: int, *, at: datetime) -> bool:
        """Record `step` as used if no later one is (compare-and-set across workers); won?"""
        params = {"credential_id": self.id, "step": step, "at": at}
        if _SPEND_STEP.run(db.session.connection(), params) != 1:
            return False
        # Written by key, not through the ORM: the loaded row learns its new values as committed.
        set_committed_value(self, "last_step", step)
        set_committed_value(self, "last_used_at", at)
        return True


# Built once with bound parameters: building a statement and its cache key per code cost
# about as much as running it.
_OF_USER = (
    select(TotpCredential)
    .where(TotpCredential.user_id == bindparam("user_id"))
    .order_by(TotpCredential.id)
)
# Built once on the table: an ORM bulk UPDATE (built, keyed and synchronised per code) cost
# more than the statement itself. Run by the driver (OneRowWrite): SQLAlchemy's execution
# cost more than psycopg's own work. The ORM's do_orm_execute hook (idp.models.second_factor),
# which forgets which factors a user has when a factor table is written, does not see it: it
# may miss this write, which changes no user's factors.
_table = cast("Table", TotpCredential.__table__)
_SPEND_STEP = OneRowWrite(
    update(_table)
    .where(_table.c.id == bindparam("credential_id"), _table.c.last_step < bindparam("step"))
    .values(last_step=bindparam("step"), last_used_at=bindparam("at")),
    keys=("credential_id", "step", "at"),
)
