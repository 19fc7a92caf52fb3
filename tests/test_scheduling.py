"""The suite's xdist scheduler (tests/scheduling.py): the costliest units go out first."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.scheduling import CACHE_KEY, make_scheduler, work_unit

COLLECTION = [
    *(f"tests/web/test_many.py::test_{n}" for n in range(10)),
    "tests/browser/test_walk.py::test_the_walk[en]",
    "tests/browser/test_walk.py::test_the_walk[es]",
    "tests/test_slow.py::test_one",
    "tests/test_slow.py::test_two",
]


class Worker:
    """What the scheduler sees of an xdist worker: the test indexes it is sent."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[list[int]] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.append(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


class Cache:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, key: str, default: Any) -> Any:
        return self.values.get(key, default)


def units_sent(cached: dict[str, float]) -> list[str]:
    """The units in the order two workers are first sent them, for COLLECTION."""
    config = SimpleNamespace(
        getvalue=lambda name: {"tx": ["2*popen"]}[name],
        option=SimpleNamespace(loadscopereorder=True),
        cache=Cache({CACHE_KEY: cached}),
    )
    scheduler = make_scheduler(config, None)  # type: ignore[arg-type]
    workers = [Worker("gw0"), Worker("gw1")]
    for worker in workers:
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, COLLECTION)
    scheduler.schedule()
    batches = sorted(
        (position, worker_index, batch)
        for worker_index, worker in enumerate(workers)
        for position, batch in enumerate(worker.sent)
    )
    return [work_unit(COLLECTION[batch[0]]) for _, _, batch in batches]


def test_a_browser_test_is_a_unit_of_its_own_and_any_other_test_goes_with_its_file() -> None:
    assert work_unit("tests/browser/test_walk.py::test_the_walk[en]") == (
        "tests/browser/test_walk.py::test_the_walk[en]"
    )
    assert work_unit("tests/web/test_many.py::test_1") == "tests/web/test_many.py"


def test_the_costliest_units_of_the_last_run_go_out_first() -> None:
    cached = {"tests/test_slow.py": 60.0, "tests/web/test_many.py": 2.0}
    assert units_sent(cached) == [
        "tests/test_slow.py",
        "tests/browser/test_walk.py::test_the_walk[en]",
        "tests/browser/test_walk.py::test_the_walk[es]",
        "tests/web/test_many.py",
    ]


def test_without_a_cache_browser_tests_go_before_a_file_of_quick_tests() -> None:
    sent = units_sent({})
    assert sent[:2] == [
        "tests/browser/test_walk.py::test_the_walk[en]",
        "tests/browser/test_walk.py::test_the_walk[es]",
    ]
    assert set(sent) == {work_unit(nodeid) for nodeid in COLLECTION}
