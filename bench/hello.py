"""The ceiling: Flask's hello-world, served by gunicorn with the provider's own settings.

`python -m bench` runs it beside the provider in the same run, so every scenario's server CPU
per request can be read as a multiple of the least a Flask request costs on this machine.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    """The smallest Flask response."""
    return "Hello, World!"
