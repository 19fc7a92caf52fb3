"""Which test worker runs what: the costliest work first, so that both workers finish together.

pytest-xdist's `--dist loadfile` sends whole files to workers, ordered by how many tests each
holds, so a file of two slow tests (the browser walks, nginx, a CLI run in a subprocess) goes out
last and one worker runs it alone while the other waits. Here the units go out costliest first:
their seconds in the last run (kept in pytest's cache), or a prior when the cache has none.

A unit is a file, except in tests/browser/, where each test is a unit of its own: those tests
share nothing but the worker's Chromium (a session fixture), and one walk takes as long as a
whole file of HTTP tests.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

CACHE_KEY = "idp/seconds-per-unit"
SPLIT_BY_TEST = ("tests/browser/",)
# The prior when the cache knows nothing of a unit (a fresh checkout, CI): a browser test, or a
# file that starts servers or subprocesses, costs seconds; any other test a tenth of a second.
PRIOR_SECONDS_PER_TEST = 0.1
PRIOR_SECONDS = {
    "tests/browser/": 8.0,
    "tests/test_behind_nginx.py": 15.0,
    "tests/web/test_outages_live.py": 10.0,
    "tests/web/test_admin_api_schema.py": 10.0,
    "tests/test_cli_outside_the_project.py": 6.0,
    "tests/test_migrations.py": 6.0,
}


def work_unit(nodeid: str) -> str:
    """The unit a test is sent to a worker in: its file, or itself in tests/browser/."""
    if nodeid.startswith(SPLIT_BY_TEST):
        return nodeid
    return nodeid.split("::", 1)[0]


def prior_seconds(unit: str, tests: int) -> float:
    for prefix, seconds in PRIOR_SECONDS.items():
        if unit.startswith(prefix):
            return seconds
    return PRIOR_SECONDS_PER_TEST * tests


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, costliest unit first."""
    from xdist.scheduler import LoadScopeScheduling

    known: dict[str, float] = {}
    cache = getattr(config, "cache", None)
    if cache is not None:
        known = cache.get(CACHE_KEY, {})

    class CostliestFirst(LoadScopeScheduling):  # type: ignore[misc]
        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if not self._ordered:
                # The base class queued the units by test count; reorder once, before the
                # first unit goes out.
                self._ordered = True
                queue = self.workqueue
                costs = {unit: cost(unit, len(tests)) for unit, tests in queue.items()}
                ordered = sorted(queue, key=costs.__getitem__, reverse=True)
                self.workqueue = OrderedDict((unit, queue[unit]) for unit in ordered)
            super()._assign_work_unit(node)

    def cost(unit: str, tests: int) -> float:
        if unit in known:
            return float(known[unit])
        return prior_seconds(unit, tests)

    return CostliestFirst(config, log)


class UnitTimes:
    """Seconds per unit in this run (setup, call and teardown), merged into the cache at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.seconds: dict[str, float] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        unit = work_unit(report.nodeid)
        self.seconds[unit] = self.seconds.get(unit, 0.0) + report.duration

    @pytest.hookimpl
    def pytest_sessionfinish(self) -> None:
        cache = getattr(self.config, "cache", None)
        if cache is None or not self.seconds:
            return
        merged = dict(cache.get(CACHE_KEY, {}))
        merged.update({unit: round(seconds, 3) for unit, seconds in self.seconds.items()})
        cache.set(CACHE_KEY, merged)
