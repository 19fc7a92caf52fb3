"""Log output: text for a terminal or one JSON object per line; emails masked on the way out."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import g, has_app_context

from idp.config import Settings

# Anything shaped like an address: a log line must never carry a full one (personal data).
EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@((?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+)")
TEXT_FORMAT = "%(asctime)s %(name)s %(message)s"


def mask_email(value: str) -> str:
    """`ada@example.com` -> `a***@example.com`; what is not an address keeps one character."""
    local, at, domain = value.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else f"{value[:1]}***"


def mask_emails(text: str) -> str:
    """Every address in a free text masked like mask_email."""
    # Most lines (a request's) have no "@": the regex would try every word for nothing.
    return EMAIL.sub(r"\1***@\2", text) if "@" in text else text


def current_request_id() -> str | None:
    """The id of the request being served, if any (set by idp.web.tracing)."""
    return g.get("request_id") if has_app_context() else None


class TextFormatter(logging.Formatter):
    """The classic one-line format, with the request id and masked addresses."""

    _stamp: tuple[int, str] = (-1, "")  # a second and its local time: one value, thread-safe

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """logging's default time, its local-time conversion done once per second, not per line."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second, stamp = self._stamp
        if int(record.created) != second:
            second = int(record.created)
            stamp = time.strftime(self.default_time_format, self.converter(second))
            self._stamp = (second, stamp)
        msec = self.default_msec_format
        return msec % (stamp, record.msecs) if msec else stamp

    def format(self, record: logging.LogRecord) -> str:
        """Format as usual, then mask; the request id goes last so columns stay aligned."""
        line = super().format(record)
        rid = current_request_id() or (getattr(record, "fields", None) or {}).get("request_id")
        return mask_emails(f"{line} rid={rid}" if rid else line)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON; `extra={"fields": {...}}` adds keys."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = current_request_id()
        if rid:
            entry["request_id"] = rid
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # Masked after serialising: no field, exception text included, escapes it.
        return mask_emails(json.dumps(entry, default=str, ensure_ascii=False))


class _IdpHandler(logging.StreamHandler):
    """The handler configure_logging installs, recognisable so a second app replaces it."""


def configure_logging(settings: Settings) -> None:
    """Send INFO and above to stderr in the configured format (IDP_LOG_FORMAT)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _IdpHandler)]:
        root.removeHandler(handler)
    handler = _IdpHandler(sys.stderr)
    formatter = JsonFormatter() if settings.log_format == "json" else TextFormatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
