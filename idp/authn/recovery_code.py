"""Recovery codes: ten single-use codes, stored keyed-hashed, shown once."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from idp import audit, mail
from idp.authn.errors import InvalidCode
from idp.database import changed_rows, commit_unless_in_request
from idp.extensions import db
from idp.models import sealing
from idp.models.hashing import keyed_hash
from idp.models.recovery_code import RecoveryCode
from idp.models.user import User

COUNT = 10
# No 0/o, 1/l/i: codes are read off paper.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
LOW_WATERMARK = 3
SEAL_PURPOSE = "recovery-codes"


def _normalize(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch in ALPHABET)


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def issue(user_id: int, *, now: datetime, app_secret: str) -> list[str]:
    """A fresh set of codes; the previous set stops working."""
    RecoveryCode.delete_all(user_id)
    codes = [_new_code() for _ in range(COUNT)]
    for code in codes:
        db.session.add(
            RecoveryCode(
                user_id=user_id, code_hash=keyed_hash(_normalize(code), app_secret), created_at=now
            )
        )
    commit_unless_in_request()
    return codes


@dataclass(frozen=True, slots=True)
class Spent:
    """A recovery code just used: how many are left, and when its set was issued."""

    remaining: int
    issued_at: datetime


def use(user_id: int, code: str, *, now: datetime, app_secret: str) -> Spent:
    """Spend one code (atomically); returns what is left, or raises InvalidCode."""
    wanted = keyed_hash(_normalize(code), app_secret)
    spent = changed_rows(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == wanted,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if spent != 1:
        raise InvalidCode()
    issued_at = db.session.scalar(
        select(RecoveryCode.created_at).where(
            RecoveryCode.user_id == user_id, RecoveryCode.code_hash == wanted
        )
    )
    commit_unless_in_request()
    return Spent(remaining=RecoveryCode.remaining(user_id), issued_at=issued_at or now)


def seal_for_display(user_id: int, codes: list[str], *, app_secret: str) -> str:
    """The new codes, sealed for the session until the user has seen them once."""
    # The session table is a database table too: plain codes there would undo hashing them.
    payload = json.dumps({"user_id": user_id, "codes": codes})
    return sealing.seal(payload, app_secret=app_secret, purpose=SEAL_PURPOSE)


def unseal_for_display(sealed: object, user_id: int, *, app_secret: str) -> list[str]:
    """The codes sealed for this user, or [] (nothing waiting, another user's, or tampered)."""
    if not isinstance(sealed, str):
        return []
    try:
        payload = json.loads(sealing.unseal(sealed, app_secret=app_secret, purpose=SEAL_PURPOSE))
    except sealing.Unsealable:
        return []
    return list(payload["codes"]) if payload.get("user_id") == user_id else []


def regenerate(user: User, *, now: datetime, app_secret: str) -> list[str]:
    """The user's "new recovery codes": the old set stops working; announced like a new factor."""
    codes = issue(user.id, now=now, app_secret=app_secret)
    audit.record("recovery_codes.issued", user_id=user.id, commit=False, regenerated=True)
    mail.send(user.email, "factor_added", commit=False, method_name="A new set of recovery codes")
    commit_unless_in_request()
    return codes
