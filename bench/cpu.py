"""CPU seconds spent by the server's processes (Linux /proc): cost per request, load-independent."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU of each process still alive."""
    spent = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[pid] = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return spent


def children(pid: int) -> list[int]:
    """The direct children of a process (gunicorn's workers)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def spent_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots; a process that appeared meanwhile counts from zero."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
