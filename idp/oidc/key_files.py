"""Files in the keys directory: private, atomic, and owned by whoever owns the directory.

Workers run as the directory's owner and read files that are 0600. A file written by another
user (typically root running `idp keys rotate`) would be unreadable to them, so writers either
are the owner or, as root, hand each new file to the owner.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

Owner = tuple[int, int]  # (uid, gid) to give new files; None when the writer already owns them


class ForeignWriterError(PermissionError):
    """The writer is neither the directory's owner nor root."""


def owner_for_new_files(directory: Path) -> Owner | None:
    """The (uid, gid) new files must get, or None when ours already match; refuse other users."""
    info = directory.stat()
    euid = os.geteuid()
    if euid == info.st_uid:
        return None
    if euid == 0:
        return info.st_uid, info.st_gid
    raise ForeignWriterError(
        f"{directory} belongs to uid {info.st_uid} but this is uid {euid}: run `idp keys` as "
        "the user the workers run as (or as root), or they could not read the new key"
    )


def open_lock(directory: Path, owner: Owner | None) -> int:
    """Open (creating if need be) the ``.lock`` file every writer flocks."""
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    if owner is not None:
        os.fchown(fd, *owner)  # a root-owned 0600 lock would shut the owner out
    return fd


def write_private_json(directory: Path, name: str, data: Any, owner: Owner | None) -> None:
    """Write JSON atomically; the file is 0600 (and the owner's) from its creation."""
    tmp = directory / f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(fd, 0o600)  # a restrictive umask must not leave it unreadable to us
            if owner is not None:
                os.fchown(fd, *owner)  # before the rename: workers never see it unreadable
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
