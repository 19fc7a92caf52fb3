"""The walk (tests/browser/walk.py) in English, on a phone and a laptop.

One file per language so that two test workers walk at the same time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.walk import Walk, the_walk, walk_at

SIZES = [(390, 844), (1280, 800)]


@pytest.fixture(params=[("en", w, h) for w, h in SIZES], ids=[f"en-{w}x{h}" for w, h in SIZES])
def walk(request: Any, live_app: Any, chromium: Any) -> Iterator[Walk]:
    yield from walk_at(request, live_app, chromium)


def test_the_walk(walk: Walk, chromium: Any) -> None:
    the_walk(walk, chromium)
