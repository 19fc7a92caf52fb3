"""Reads untrusted admin input (API JSON, console forms, CLI options), collecting every error."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from idp.manage.errors import FieldError, Invalid

# Control characters (NUL above all: PostgreSQL refuses it in text) are never valid input.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MISSING = object()


class Payload:
    """Typed access to a mapping; errors pile up until `done()` raises them together."""

    def __init__(self, data: Any, *, allowed: Iterable[str], line: int | None = None) -> None:
        self.errors: list[FieldError] = []
        self.line = line
        if not isinstance(data, Mapping):
            self.data: Mapping[str, Any] = {}
            self.fail("body", _("must be a JSON object"))
            return
        self.data = data
        for key in data:
            if key not in set(allowed):
                self.fail(str(key)[:64], _("is not a known field"))

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def fail(self, field: str, message: str) -> None:
        """Note one bad field."""
        self.errors.append(FieldError(field, message, self.line))

    def done(self) -> None:
        """Raise Invalid with every error found, if any."""
        if self.errors:
            raise Invalid(_("The input is not valid."), self.errors)

    def text(self, name: str, *, max_len: int, required: bool = False, default: str = "") -> str:
        """A single-line string, stripped; required means non-empty."""
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            if required:
                self.fail(name, _("is required"))
            return default
        if not isinstance(value, str):
            self.fail(name, _("must be a string"))
            return default
        # Judged as sent, then stripped: what the OpenAPI document promises to refuse is refused.
        if _CONTROL.search(value):
            self.fail(name, _("must not contain control characters"))
        elif len(value) > max_len:
            self.fail(name, _("must be at most %(count)d characters", count=max_len))
        elif required and not value.strip():
            self.fail(name, _("is required"))
        return value.strip()

    def boolean(self, name: str, default: bool) -> bool:
        """A JSON boolean."""
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            self.fail(name, _("must be true or false"))
            return default
        return value

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        """A JSON integer within [low, high]."""
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, _("must be a whole number"))
            return default
        if not low <= value <= high:
            self.fail(name, _("must be between %(low)d and %(high)d", low=low, high=high))
            return default
        return value

    def choice(self, name: str, default: str, choices: Iterable[str]) -> str:
        """One of a fixed set of strings."""
        options = tuple(choices)
        value = self.data.get(name, default)
        if not isinstance(value, str) or value not in options:
            self.fail(name, _("must be one of: %(choices)s", choices=", ".join(options)))
            return default
        return value

    def strings(
        self,
        name: str,
        default: list[str] | None = None,
        *,
        max_items: int,
        max_len: int = 500,
        choices: Iterable[str] | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> list[str]:
        """A list of distinct strings (order kept), each valid on its own."""
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            return list(default or [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(name, _("must be a list of strings"))
            return list(default or [])
        if len(value) > max_items:
            self.fail(name, _("must have at most %(count)d items", count=max_items))
            return list(default or [])
        options = tuple(choices) if choices is not None else None
        found: list[str] = []
        for item in value:
            if not item.strip() or _CONTROL.search(item) or len(item) > max_len:
                self.fail(
                    name, _("has an empty, too long or unprintable item: %(item)r", item=item[:60])
                )
            elif options is not None and item not in options:
                self.fail(
                    name,
                    _(
                        "has %(item)r, which is not one of: %(choices)s",
                        item=item[:60],
                        choices=", ".join(options),
                    ),
                )
            elif pattern is not None and not pattern.fullmatch(item):
                self.fail(name, _("has %(item)r, which is not allowed", item=item[:60]))
            elif item not in found:
                found.append(item)
        return found


def iso(at: datetime | None) -> str | None:
    """A naive-UTC time as the API writes it (RFC 3339, 'Z')."""
    return at.isoformat(timespec="seconds") + "Z" if at is not None else None
