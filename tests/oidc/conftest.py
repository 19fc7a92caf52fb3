"""Protocol tests keep no state outside the database: one app per settings, reused."""

from __future__ import annotations

import pytest
from flask import Flask


@pytest.fixture
def app(reused_app: Flask) -> Flask:
    """The shared app, on empty tables with its clock at now."""
    return reused_app
