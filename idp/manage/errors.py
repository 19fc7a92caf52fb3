"""Why an admin action was refused; each has a stable code, an HTTP status and a message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import LazyString, gettext

from idp.errors import IdpError
from idp.manage.fields import label


@dataclass(frozen=True, slots=True)
class FieldError:
    """One bad field (and, for an import, the line it is on)."""

    field: str
    message: str
    line: int | None = None

    @property
    def label(self) -> str:
        """The field's name as a person reads it ("Remember devices for (days)")."""
        return label(self.field)

    @property
    def text(self) -> str:
        """The whole sentence: "Remember devices for (days) must be between 1 and 30"."""
        sentence = gettext("%(field)s %(problem)s", field=self.label, problem=self.message)
        if self.line is not None:
            return gettext("Line %(line)s: %(error)s", line=self.line, error=sentence)
        return sentence

    def __str__(self) -> str:
        return self.text


class ManageError(IdpError):
    """Base of admin errors; `code` is stable, `message` is for people."""

    code = "refused_request"
    status = 400
    title = "Request refused"

    def __init__(self, message: str | LazyString, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.message = str(message)
        self.errors = list(errors)


class NotFound(ManageError):
    """No such client, user or invitation."""

    code = "not_found"
    status = 404
    title = "Not found"


class Invalid(ManageError):
    """The input does not validate; `errors` says which fields and why."""

    code = "invalid"
    status = 422
    title = "Invalid input"


class Conflict(ManageError):
    """The change clashes with existing data (a taken email or client_id)."""

    code = "conflict"
    status = 409
    title = "Conflict"


class Refused(ManageError):
    """A valid request the provider will not carry out (e.g. disabling the last admin)."""

    code = "refused"
    status = 409
    title = "Action refused"
