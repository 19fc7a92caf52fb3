"""The message catalogues: <language>/LC_MESSAGES/messages.po, compiled to .mo when stale.

Only the .po files are in git; `make test`, `make run` and every app start compile what is
missing or older than its source, so a fresh checkout speaks every language it has.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

FOLDER = Path(__file__).resolve().parent
# Every language with a complete catalogue; the first is the one templates are written in.
LANGUAGES = ("en", "es")
log = logging.getLogger(__name__)


def supported(tag: str | None) -> str | None:
    """The supported language a BCP47 tag asks for (`es-419` -> `es`), or None."""
    primary = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def compile_catalogues(folder: Path = FOLDER) -> list[Path]:
    """Write messages.mo next to each messages.po that is newer; returns what was written."""
    written = []
    for source in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        target = source.with_suffix(".mo")
        if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
            continue
        with source.open("rb") as fh:
            catalog = read_po(fh, locale=source.parent.parent.name)
        # Written aside and renamed: two workers starting together never read half a file.
        fd, partial = tempfile.mkstemp(dir=target.parent, suffix=".part")
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog)
        os.replace(partial, target)
        written.append(target)
        log.info("compiled %s", target)
    return written
