"""A closed-loop load generator: one thread per step, each repeating it for a fixed time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class Exhausted(Exception):
    """A step ran out of prepared input (seeded users): its thread stops; not a failure."""


@dataclass(frozen=True, slots=True)
class Result:
    """One scenario: successes, failures, wall time, latency of successes."""

    scenario: str
    ok: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    first_error: str


def run(scenario: str, steps: list[Callable[[], object]], *, seconds: float) -> Result:
    """Repeat each step on its own thread for `seconds`; a step fails by raising."""
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    def loop(step: Callable[[], object]) -> None:
        while (began := time.perf_counter()) < deadline:
            try:
                step()
            except Exhausted:
                return
            except Exception as exc:  # counted and shown, never fatal to the run
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - began)  # list.append is atomic

    threads = [threading.Thread(target=loop, args=(step,), daemon=True) for step in steps]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies) or [0.0]

    def percentile(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 1)

    first = errors[0] if errors else ""
    return Result(
        scenario, len(latencies), len(errors), elapsed, percentile(0.5), percentile(0.95), first
    )
