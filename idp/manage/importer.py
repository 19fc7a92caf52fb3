"""Import users from CSV or JSON with their existing password hashes: all rows, or none.

Columns (CSV header) or keys (JSON objects): email (required), name, given_name,
family_name, locale, roles (CSV: separated by spaces, ',' or ';'), password_hash (argon2,
bcrypt, or PBKDF2-SHA256 in Django's or passlib's format; empty: no password yet). Hashes
dearer to check than idp.authn.password's MAX_* limits are refused row by row.
Imported accounts are not activated: their first sign-in proves the email (DESIGN.md rule 2),
and the password is rehashed to argon2id then.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from idp import audit, untrusted_json
from idp.authn.password import cost_problem, hash_scheme
from idp.clock import now
from idp.extensions import db
from idp.manage.actor import Actor
from idp.manage.errors import FieldError, Invalid
from idp.manage.payload import Payload
from idp.manage.users import PROFILE_FIELDS, read_email, read_profile
from idp.models.user import User

COLUMNS = ("email", *PROFILE_FIELDS, "password_hash")
MAX_ROWS = 10_000
MAX_ERRORS = 50
_ROLE_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True, slots=True)
class Row:
    """One record and the line of the file it starts on."""

    line: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What was imported."""

    created: int
    by_scheme: dict[str, int]


def detect_format(filename: str, text: str) -> str:
    """ "json" for .json/.jsonl files or text starting with '[' or '{'; "csv" otherwise."""
    if filename.lower().endswith((".json", ".jsonl", ".ndjson")):
        return "json"
    if filename.lower().endswith(".csv"):
        return "csv"
    return "json" if text.lstrip()[:1] in ("[", "{") else "csv"


def parse_csv(text: str) -> list[Row]:
    """Rows of a CSV file with a header line; roles split on spaces, commas or semicolons."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in COLUMNS]
    if "email" not in header or unknown:
        detail = (
            _("has unknown columns: %(columns)s", columns=", ".join(unknown))
            if unknown
            else _("has no email column")
        )
        raise Invalid(_("The header line is wrong."), [FieldError("header", detail, 1)])
    reader.fieldnames = header
    rows, line = [], 2
    try:
        for record in reader:
            data: dict[str, Any] = {k: v for k, v in record.items() if k is not None and v}
            if None in record:
                data["_extra"] = "too many fields"
            if "roles" in data:
                data["roles"] = [r for r in _ROLE_SEPARATORS.split(data["roles"]) if r]
            rows.append(Row(line, data))
            line = reader.line_num + 1
    except csv.Error as exc:
        problem = _("is not valid CSV: %(reason)s", reason=str(exc))
        raise Invalid(_("The file is not valid CSV."), [FieldError("file", problem, line)]) from exc
    return rows


def parse_json(text: str) -> list[Row]:
    """Rows of a JSON array of objects, or of JSON Lines (one object per line)."""
    decoder, rows = json.JSONDecoder(), []
    # One level more than a body: the array of rows holds the documents.
    if untrusted_json.depth(text) > untrusted_json.MAX_DEPTH + 1:
        problem = _("is nested too deeply")
        raise Invalid(_("The file is not valid JSON."), [FieldError("file", problem, 1)])
    stripped = text.lstrip()
    at = len(text) - len(stripped)
    in_array = stripped.startswith("[")
    at += 1 if in_array else 0
    while True:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        if at >= len(text) or (in_array and text[at] == "]"):
            break
        line = text.count("\n", 0, at) + 1
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            problem = _("is not valid JSON: %(reason)s", reason=exc.msg)
            raise Invalid(
                _("The file is not valid JSON."), [FieldError("file", problem, exc.lineno)]
            ) from exc
        if isinstance(value, dict):
            # null in an export means "no value": the same as leaving the key out.
            rows.append(Row(line, {k: v for k, v in value.items() if v is not None}))
        else:
            rows.append(Row(line, {"_value": value}))
    if in_array and (at >= len(text) or text[at:].strip() != "]"):
        line = text.count("\n", 0, at) + 1
        problem = _("is not valid JSON: %(reason)s", reason="expected ']'")
        raise Invalid(_("The file is not valid JSON."), [FieldError("file", problem, line)])
    return rows


def parse(filename: str, text: str) -> list[Row]:
    """Rows of a CSV or JSON import file."""
    text = text.removeprefix("\ufeff")  # a byte-order mark from spreadsheet exports
    rows = parse_json(text) if detect_format(filename, text) == "json" else parse_csv(text)
    if not rows:
        raise Invalid(_("The file has no users."), [FieldError("file", _("has no rows"), None)])
    if len(rows) > MAX_ROWS:
        problem = _("must have at most %(count)d rows", count=MAX_ROWS)
        raise Invalid(_("Too many rows."), [FieldError("file", problem)])
    return rows


def _check(row: Row, seen: dict[str, int]) -> tuple[dict[str, Any], list[FieldError]]:
    p = Payload(row.data, allowed=COLUMNS, line=row.line)
    if "_value" in row.data or "_extra" in row.data:
        p.errors = [FieldError("row", _("must be an object with known keys"), row.line)]
        return {}, p.errors
    email = read_email(p)
    values = {"email": email, **read_profile(p, creating=True)}
    stored = p.text("password_hash", max_len=255)
    if stored and (too_costly := cost_problem(stored)):
        # Each wrong password would cost a worker seconds: leave it out and have them reset it.
        p.fail(
            "password_hash",
            _(
                "is too costly to check (%(problem)s); import the row without it "
                "(the user resets the password)",
                problem=too_costly,
            ),
        )
    elif stored and hash_scheme(stored) is None:
        p.fail("password_hash", _("is not an argon2, bcrypt or pbkdf2-sha256 hash we can verify"))
    values["password_hash"] = stored or None
    if email in seen:
        p.fail("email", _("is also on line %(line)d", line=seen[email]))
    seen.setdefault(email, row.line)
    return values, p.errors


def import_users(rows: list[Row], *, actor: Actor) -> ImportResult:
    """Validate every row, then create them all in one transaction; Invalid lists bad lines."""
    seen: dict[str, int] = {}
    checked = [(row, *_check(row, seen)) for row in rows]
    errors = [error for _, _, found in checked for error in found]
    emails = [values["email"] for _, values, found in checked if not found]
    taken = set()
    for start in range(0, len(emails), 500):
        chunk = emails[start : start + 500]
        taken |= set(
            db.session.scalars(
                select(func.lower(User.email)).where(func.lower(User.email).in_(chunk))
            )
        )
    for row, values, found in checked:
        if not found and values["email"] in taken:
            errors.append(FieldError("email", _("already has an account"), row.line))
    if errors:
        errors.sort(key=lambda e: e.line or 0)
        summary = ngettext(
            "%(num)d problem; nothing was imported.",
            "%(num)d problems; nothing was imported.",
            len(errors),
        )
        raise Invalid(summary, errors[:MAX_ERRORS])
    counts: dict[str, int] = {}
    at = now()
    for _row, values, _found in checked:
        scheme = hash_scheme(values["password_hash"]) if values["password_hash"] else "none"
        counts[scheme or "none"] = counts.get(scheme or "none", 0) + 1
        db.session.add(User(**values, email_verified=False, created_at=at))
    audit.record(
        "users.imported", commit=False, created=len(checked), by_scheme=counts, **actor.detail()
    )
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Invalid(
            _("Another change clashed with the import; nothing was imported."),
            [FieldError("file", _("has an email that was taken meanwhile; try again"))],
        ) from exc
    return ImportResult(created=len(checked), by_scheme=counts)
