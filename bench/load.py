"""A small closed-loop load generator: N threads, each with a keep-alive session, for T seconds."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class Result:
    """One scenario's numbers."""

    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run(
    name: str,
    step: Callable[[requests.Session, int], bool],
    *,
    concurrency: int,
    seconds: float,
    prepare: Callable[[requests.Session, int], None] | None = None,
) -> Result:
    """Call `step(session, worker)` in a loop on every worker; it returns success."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start_line = threading.Barrier(concurrency + 1)

    def worker(index: int) -> None:
        session = requests.Session()
        if prepare:
            prepare(session, index)
        start_line.wait()
        stop_at = time.perf_counter() + seconds
        mine: list[float] = []
        failed = 0
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            try:
                ok = step(session, index)
            except requests.RequestException:
                ok = False
            if ok:
                mine.append(time.perf_counter() - began)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies) or [0.0]
    return Result(
        name=name,
        requests=len(latencies),
        errors=errors[0],
        seconds=elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p95_ms=ordered[int(len(ordered) * 0.95) - 1 if len(ordered) > 1 else 0] * 1000,
    )
