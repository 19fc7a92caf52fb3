"""The Flask class this app runs on: Flask's, with a cheaper answer to "is this hook async?"."""

from __future__ import annotations

from collections.abc import Callable
from inspect import CO_COROUTINE
from typing import Any

from flask import Flask


class Application(Flask):
    """Flask asks `ensure_sync` of every hook, context processor and view of every request (a
    dozen and more a page); `inspect.iscoroutinefunction` answers in ~1 us. A plain `def`
    function or method says it at once: its code is not a coroutine's and it carries no
    `inspect.markcoroutinefunction` mark. Anything else (a partial, an async view) goes to
    Flask's own check."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func` itself when it is plainly synchronous, else Flask's answer."""
        code = getattr(func, "__code__", None)  # a method's is its function's
        if (
            code is not None
            and not code.co_flags & CO_COROUTINE
            and not hasattr(func, "_is_coroutine_marker")
        ):
            return func
        return super().ensure_sync(func)
