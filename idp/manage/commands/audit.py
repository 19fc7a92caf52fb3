"""`idp audit ...`: export as JSON Lines, prune past the retention period."""

from __future__ import annotations

from typing import TextIO

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.clock import now
from idp.manage import audit_log
from idp.manage.actor import CLI
from idp.manage.commands import reported


@click.group("audit")
def audit_cli() -> None:
    """The audit log: export and retention."""


@audit_cli.command("export")
@click.option("--user", default=None, help="Email or sub.")
@click.option("--client", default=None, help="client_id.")
@click.option("--event", default=None, help="Event name, or a prefix ending in * (user.*).")
@click.option("--since", default=None, help="YYYY-MM-DD or ISO 8601 (UTC).")
@click.option("--until", default=None, help="YYYY-MM-DD (inclusive) or ISO 8601.")
@click.option("--output", "-o", type=click.File("w"), default="-", help="Default: stdout.")
@with_appcontext
def audit_export(output: TextIO, **filters: str | None) -> None:
    """Write matching events as JSON Lines, oldest first."""
    with reported():
        selected = audit_log.read_filter(filters)
    audit_log.record_export(selected, actor=CLI)
    for line in audit_log.export_lines(selected):
        output.write(line)


@audit_cli.command("prune")
@click.option(
    "--days", type=click.IntRange(min=0), default=None, help="Default: IDP_AUDIT_RETENTION_DAYS."
)
@with_appcontext
def audit_prune(days: int | None) -> None:
    """Delete events older than the retention period (run daily from cron)."""
    keep = current_app.extensions["idp.settings"].audit_retention_days if days is None else days
    if keep == 0:
        click.echo("retention is 0 (keep forever): nothing deleted")
        return
    count = audit_log.prune(days=keep, at=now(), actor=CLI)
    click.echo(f"deleted {count} event(s) older than {keep} days")
