"""BENCH_PIN=1: the server and its PostgreSQL backends on some cores, the load on the others.

Shared machines move processes between cores; pinned, the server's CPU per request and its
req/s per core are read without the load generator competing for the same core.
"""

from __future__ import annotations

import os

CORES = sorted(os.sched_getaffinity(0))  # before this process pins itself


def split(workers: int) -> tuple[list[int], list[int]]:
    """(server cores, load cores): one core per worker, but always at least one for the load."""
    cores = CORES
    if len(cores) < 2:
        raise SystemExit("BENCH_PIN=1 needs at least two CPUs")
    server = cores[: max(1, min(workers, len(cores) - 1))]
    return server, [c for c in cores if c not in server]


def taskset(cores: list[int]) -> list[str]:
    """The prefix that starts a command on `cores` (its children inherit the mask)."""
    return ["taskset", "-c", ",".join(map(str, cores))]


def pin(pids: list[int], cores: list[int]) -> None:
    """Move running processes (PostgreSQL backends) to `cores`; gone ones are skipped."""
    for pid in pids:
        try:
            os.sched_setaffinity(pid, cores)
        except (ProcessLookupError, PermissionError):
            continue


def pin_self(cores: list[int]) -> None:
    """The load generator: this process; threads started afterwards inherit the mask."""
    os.sched_setaffinity(0, cores)
