"""The admin groups of the `idp` command (user, client, audit), mirroring the admin API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click

from idp.manage.errors import ManageError


@contextmanager
def reported() -> Iterator[None]:
    """Turn an admin service's refusal into a CLI error listing every bad field."""
    try:
        yield
    except ManageError as exc:
        details = "".join(f"\n  {error}" for error in exc.errors)
        raise click.ClickException(f"{exc.message}{details}") from exc


def echo_json(value: object) -> None:
    """Print a value as indented JSON."""
    click.echo(json.dumps(value, indent=2, default=str))
