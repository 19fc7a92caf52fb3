"""The `idp` command: database, keys, users, clients, audit log, mail worker, demo data."""

from __future__ import annotations

import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from idp.manage.commands.audit import audit_cli
from idp.manage.commands.clients import client_cli
from idp.manage.commands.demo import demo
from idp.manage.commands.users import user_cli
from idp.oidc.keys import JWKS_MAX_AGE, KeyStore, KeyStoreError


def _keys() -> KeyStore:
    return current_app.extensions["idp.oidc"].keys


@click.group("keys")
def keys_cli() -> None:
    """Signing keys (JWK files in the keys directory)."""


@keys_cli.command("generate")
@with_appcontext
def keys_generate() -> None:
    """Create RS256 and ES256 keys where missing."""
    try:
        created = _keys().ensure()
    except KeyStoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created: {', '.join(created)}" if created else "keys already present")


@keys_cli.command("rotate")
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), default=None)
@click.option(
    "--stage",
    is_flag=True,
    help=f"Publish the new keys only; `idp keys activate KID` after {JWKS_MAX_AGE} s.",
)
@with_appcontext
def keys_rotate(alg: str | None, stage: bool) -> None:
    """New keys sign from now on (with --stage: only once activated); old ones stay published."""
    try:
        kids = _keys().stage(alg) if stage else _keys().rotate(alg)
    except KeyStoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for kid in kids:
        click.echo(f"{'staged key' if stage else 'new signing key'}: {kid}")
    if stage:
        click.echo(f"relying parties cache the JWKS for {JWKS_MAX_AGE} s: activate after that")


# A kid is base64url and may start with "-" (older keys): unknown options are taken as the kid.
_KID_ARGUMENT = {"ignore_unknown_options": True}


@keys_cli.command("activate", context_settings=_KID_ARGUMENT)
@click.argument("kid")
@click.option("--force", is_flag=True, help="Even if relying parties may not have fetched it yet.")
@with_appcontext
def keys_activate(kid: str, force: bool) -> None:
    """Sign with a staged key from now on; the key it replaces stays published."""
    try:
        _keys().activate(kid, force=force)
    except KeyStoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"signing with {kid}")


@keys_cli.command("retire", context_settings=_KID_ARGUMENT)
@click.argument("kid")
@with_appcontext
def keys_retire(kid: str) -> None:
    """Remove a key that no longer signs from the JWKS."""
    try:
        _keys().retire(kid)
    except KeyStoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"retired {kid}")


@keys_cli.command("list")
@with_appcontext
def keys_list() -> None:
    """Show keys, their algorithm and which sign (staged: published, not signing yet)."""
    directory = _keys().directory
    if not directory.is_dir():
        raise click.ClickException(
            f"no keys directory at {directory.resolve()}: run `idp keys generate` "
            "(or run idp from the project folder, or set IDP_KEYS_DIR)"
        )
    for info in _keys().list():
        status = "active" if info.active else "staged" if info.staged else ""
        click.echo(f"{info.kid}  {info.alg}  {info.created_at:%Y-%m-%d %H:%M}  {status}")


@click.command("prune")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Rows per DELETE and commit; smaller holds SQLite's write lock for less time.",
)
@with_appcontext
def prune(batch_size: int) -> None:
    """Delete expired sessions, codes, tokens and links (run daily, like `idp audit prune`)."""
    from idp.clock import now
    from idp.manage.housekeeping import prune as prune_expired

    settings = current_app.extensions["idp.settings"]
    counts = prune_expired(settings, now=now(), batch_size=batch_size)
    click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (tests, cron).")
@click.option(
    "--interval", type=float, default=2.0, show_default=True, help="Seconds between polls."
)
@with_appcontext
def worker(once: bool, interval: float) -> None:
    """Deliver queued mail and logout tokens, retrying failures; until SIGTERM unless --once."""
    from idp.oidc import backchannel
    from idp.worker import drain, run

    settings = current_app.extensions["idp.settings"]
    keys = current_app.extensions["idp.oidc"].keys
    if once:
        done = drain(settings)
        click.echo(f"sent: {done.sent}, retrying: {done.retrying}, failed: {done.failed}")
        told = backchannel.drain(settings, keys)
        if told.sent or told.retrying or told.failed:
            click.echo(
                f"logout tokens sent: {told.sent}, retrying: {told.retrying}, failed: {told.failed}"
            )
        return
    stop = threading.Event()
    # Finish the message in hand, then exit: an SMTP session cut mid-DATA might be delivered
    # and then sent again once its lease runs out.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    transport = "SMTP" if settings.smtp_url else f"the outbox folder {settings.outbox_dir}"
    click.echo(f"mail worker: delivering to {transport}, polling every {interval:g} s")
    run(settings, interval=interval, stop=stop, keys=keys)


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app's CLI."""
    for command in (keys_cli, user_cli, client_cli, audit_cli, demo, prune, worker):
        app.cli.add_command(command)


def main() -> None:
    """Entry point of the `idp` console script."""
    from idp import create_app
    from idp.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise SystemExit(f"idp: configuration error: {exc}") from None
    try:
        FlaskGroup(create_app=lambda: create_app())(prog_name="idp")
    except (OperationalError, ProgrammingError) as exc:
        raise SystemExit(f"idp: {_database_problem(exc, settings.database_url)}") from None
    except KeyStoreError as exc:
        raise SystemExit(f"idp: signing keys in {settings.keys_dir}: {exc}") from None


def _database_problem(exc: DBAPIError, url: str) -> str:
    """One line for a database that is missing its tables or can't be reached (no traceback)."""
    where = make_url(url).render_as_string(hide_password=True)
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    # SQLite says "no such table"; PostgreSQL says 'relation "users" does not exist'.
    if "no such table" in detail or "does not exist" in detail:
        return (
            f"the database {where} has no tables yet ({detail}): run `idp db upgrade` "
            "(or run idp from the project folder, or set IDP_INSTANCE_DIR / IDP_DATABASE_URL)"
        )
    return f"cannot use the database {where}: {detail}"
