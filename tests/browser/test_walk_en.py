"""The walk (tests/browser/walk.py) in English: on a phone, each page checked on a laptop too.

One file per language so that two test workers walk at the same time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.walk import Walk, the_walk, walk_in


@pytest.fixture
def walk(live_app: Any, chromium: Any) -> Iterator[Walk]:
    yield from walk_in("en", live_app, chromium)


def test_the_walk(walk: Walk, chromium: Any) -> None:
    the_walk(walk, chromium)
