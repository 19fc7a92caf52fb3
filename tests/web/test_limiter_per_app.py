"""Two apps in one process keep their own rate-limit state (idp.rate_limiter.PerAppLimiter)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from idp import create_app
from idp.rate_limiter import limiter_of
from tests.conftest import base_overrides
from tests.support import RelyingParty, make_client

LIMITS = {"ratelimit_enabled": True, "authorize_rate_limit": "2/minute"}


def build(environment: dict[str, Any], root: Any, **settings: Any) -> Flask:
    values = base_overrides(root, environment["url"], environment["keys_dir"])
    app = create_app({**values, **settings})
    app.config["TESTING"] = True
    return app


def authorize_statuses(app: Flask, times: int) -> list[int]:
    browser = app.test_client()
    url = RelyingParty(browser).authorize_url()
    return [browser.get(url).status_code for _ in range(times)]


def test_an_app_built_later_neither_switches_limits_nor_shares_counts(
    app, _environment, tmp_path
) -> None:
    make_client(app)  # the tables are shared; the apps are not
    limited = build(_environment, tmp_path / "limited", **LIMITS)
    assert authorize_statuses(limited, 3) == [302, 302, 429]
    unlimited = build(_environment, tmp_path / "unlimited", ratelimit_enabled=False)
    assert authorize_statuses(unlimited, 3) == [302, 302, 302]
    assert authorize_statuses(limited, 1) == [429]  # still on, still counting
    fresh = build(_environment, tmp_path / "fresh", **LIMITS)
    assert authorize_statuses(fresh, 3) == [302, 302, 429]  # its own counts, from zero
    assert limiter_of(limited) is not limiter_of(fresh)
