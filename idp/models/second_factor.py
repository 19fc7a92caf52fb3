"""Which kinds of second factor a user has stored, in one query (the sign-in policy's input)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Delete, Exists, Update, bindparam, event, exists, func, select
from sqlalchemy.orm import ORMExecuteState, QueryableAttribute, Session, UOWTransaction

from idp.extensions import db
from idp.models.recovery_code import RecoveryCode
from idp.models.totp_credential import TotpCredential
from idp.models.user import User, normalize_email
from idp.models.webauthn_credential import WebAuthnCredential

# Where a request keeps the answer it read with the session row (Session.info dies with it).
_KNOWN = "idp.stored_factors"


@dataclass(frozen=True, slots=True)
class StoredFactors:
    """True for each kind the user has at least one of (recovery codes: one unused)."""

    totp: bool
    webauthn: bool
    recovery_code: bool


def stored_factor_columns(
    user_id: ColumnElement[Any] | QueryableAttribute[Any] | int,
) -> tuple[Exists, Exists, Exists]:
    """The three EXISTS, to select on their own or beside the row that names the user."""
    return (
        exists().where(TotpCredential.user_id == user_id),
        exists().where(WebAuthnCredential.user_id == user_id),
        exists().where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)),
    )


def remember_stored_factors(user_id: int, row: tuple[Any, Any, Any]) -> StoredFactors:
    """Keep what a query read beside the session row, until this database session writes."""
    found = StoredFactors(totp=bool(row[0]), webauthn=bool(row[1]), recovery_code=bool(row[2]))
    db.session.info[_KNOWN] = (user_id, found)
    return found


def user_by_email(email: str) -> User | None:
    """`User.by_email`, with the kinds of factor the user has read in the same statement and
    kept for the policy, which the password step asks next (one statement, not two)."""
    row = db.session.execute(_BY_EMAIL, {"email": normalize_email(email)}).first()
    if row is None:
        return None
    user: User = row[0]
    remember_stored_factors(user.id, (row[1], row[2], row[3]))
    return user


def stored_factors(user_id: int) -> StoredFactors:
    """The policy asks on every sign-in page: read with the session row when it could be
    (idp/web/session.py), else one SELECT of three EXISTS."""
    known = db.session.info.get(_KNOWN)
    if known is not None and known[0] == user_id:
        return known[1]
    row = db.session.execute(select(*stored_factor_columns(user_id))).one()
    return StoredFactors(totp=bool(row[0]), webauthn=bool(row[1]), recovery_code=bool(row[2]))


# Built once with bound parameters, as User.by_email's own.
_BY_EMAIL = select(User, *stored_factor_columns(User.id)).where(
    func.lower(User.email) == bindparam("email")
)
_FACTORS = (TotpCredential, WebAuthnCredential, RecoveryCode)
_FACTOR_TABLES = frozenset(kind.__tablename__ for kind in _FACTORS)
# Which of a user's apps and keys exist does not change when their other columns do (a TOTP
# step or a signature counter spent at sign-in); a recovery code's `used_at` does change it.
_EXISTENCE_ONLY = frozenset({TotpCredential.__tablename__, WebAuthnCredential.__tablename__})


@event.listens_for(Session, "after_flush")
def _forget_after_flush(session: Session, _flush: UOWTransaction) -> None:
    # A factor added, changed or removed, or a user deleted (the factors go with the row):
    # the next question reads them afresh. Other writes (an audit event, the user's last
    # factor) leave the answer standing. after_flush still lists what the flush wrote.
    written = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(instance, _FACTORS) for instance in written) or any(
        isinstance(instance, User) for instance in session.deleted
    ):
        session.info.pop(_KNOWN, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_after_write(state: ORMExecuteState) -> None:
    # Bulk UPDATE / INSERT (a recovery code spent) of a factor's table, and any DELETE (a
    # reset; a user's rows cascade); a statement whose table or values cannot be told (text)
    # forgets too.
    if state.is_select or _leaves_factors_standing(state.statement):
        return
    state.session.info.pop(_KNOWN, None)


def _leaves_factors_standing(statement: Any) -> bool:
    table = getattr(getattr(statement, "table", None), "name", None)
    if table is None or isinstance(statement, Delete):
        return False
    if table not in _FACTOR_TABLES:
        return True
    if table not in _EXISTENCE_ONLY or not isinstance(statement, Update):
        return False
    values: Any = getattr(statement, "_values", None)  # None: ordered or multiple VALUES
    if not values:
        return False
    return "user_id" not in {getattr(key, "key", key) for key in values}
