"""`idp demo`: a demo user and client for local development, the same secret every run."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.extensions import db
from idp.manage.commands.clients import create_client
from idp.manage.commands.users import create_user
from idp.models.client import Client
from idp.models.user import User

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "correct-horse-battery-staple-42"
DEMO_CLIENT_ID = "demo-rp"
# The callbacks local apps and debuggers usually listen on (Express, Spring, Vite, oidcdebugger).
DEMO_REDIRECTS = [
    "http://localhost:3000/callback",
    "http://localhost:8080/callback",
    "http://127.0.0.1:8080/callback",
    "http://localhost:5173/callback",
    "https://oidcdebugger.com/debug",
]
SECRET_FILE = "demo-client-secret"


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Seed a demo user and client and print how to use them (development only)."""
    current_app.extensions["idp.oidc"].keys.ensure()
    settings = current_app.extensions["idp.settings"]
    if User.by_email(DEMO_EMAIL) is None:
        create_user(email=DEMO_EMAIL, password=DEMO_PASSWORD, name="Demo User", activated=True)
    client, secret = _demo_client(Path(settings.instance_dir) / SECRET_FILE)
    click.echo("")
    click.echo(f"  Discovery:     {settings.issuer}/.well-known/openid-configuration")
    click.echo(f"  Demo user:     {DEMO_EMAIL} / {DEMO_PASSWORD}")
    click.echo(f"  Demo client:   {client.client_id} / {secret}")
    click.echo(f"  Redirect URIs: {', '.join(client.redirect_uris)}")
    click.echo(f"  Outbox:        {settings.issuer}/dev/outbox  (email codes land here)")
    click.echo("")


def _demo_client(secret_file: Path) -> tuple[Client, str]:
    """The demo client and its secret: the one kept in `secret_file` while it still matches."""
    kept = _read_secret(secret_file)
    client = Client.by_client_id(DEMO_CLIENT_ID)
    if client is None:
        client, secret = create_client(
            name="Demo App",
            redirect_uris=DEMO_REDIRECTS,
            first_party=True,
            client_id=DEMO_CLIENT_ID,
            post_logout_redirect_uris=["http://localhost:8080/"],
        )
        assert secret is not None  # a confidential client
    elif kept and client.check_client_secret(kept):
        secret = kept
    else:
        secret = client.set_secret()  # only the hash is stored: the old one can't be shown
    # A client seeded by an older `idp demo` gains the callbacks added since; none are removed.
    missing = [uri for uri in DEMO_REDIRECTS if uri not in client.redirect_uris]
    if missing:
        client.redirect_uris = [*client.redirect_uris, *missing]
    db.session.commit()
    if secret != kept:
        _write_secret(secret_file, secret)
    return client, secret


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _write_secret(path: Path, secret: str) -> None:
    # Readable by its owner only, like instance/secret_key: it signs in as the demo client.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    os.replace(tmp, path)
