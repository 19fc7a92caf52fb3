"""The app's Flask class: plain hooks and views run as they are, async ones still go to Flask."""

from __future__ import annotations

import pytest


def test_plain_functions_and_methods_are_used_as_they_are(app):
    def hook() -> None:
        return None

    class Owner:
        def method(self) -> None:
            return None

    bound = Owner().method
    assert app.ensure_sync(hook) is hook
    assert app.ensure_sync(bound) is bound


def test_async_views_still_go_through_flasks_own_check(app):
    """An `async def` is never handed back as it is: Flask wraps it (or, without its async
    extra installed, refuses it), exactly as with Flask's own ensure_sync."""

    async def view() -> str:
        return "hi"

    try:
        wrapped = app.ensure_sync(view)
    except RuntimeError as refused:  # Flask without asgiref
        assert "async" in str(refused)
    else:
        assert wrapped is not view


def test_partials_and_callable_objects_go_through_flasks_own_check(app):
    from functools import partial

    from flask import Flask

    class Hook:
        def __call__(self) -> None:
            return None

    def plain(_: int) -> None:
        return None

    bound = partial(plain, 1)
    hook = Hook()
    assert app.ensure_sync(bound) is Flask.ensure_sync(app, bound)
    assert app.ensure_sync(hook) is Flask.ensure_sync(app, hook)


@pytest.mark.parametrize("path", ["/help", "/signin"])
def test_pages_still_answer(client, path):
    assert client.get(path).status_code == 200
