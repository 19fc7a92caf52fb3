"""The `idp` command: database, keys, users, clients, demo data."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from idp import audit
from idp.authn.password_policy import WeakPassword, check_new_password
from idp.clock import now
from idp.extensions import db
from idp.models.client import Client
from idp.models.user import User, normalize_email
from idp.oidc.keys import KeyStore, KeyStoreError

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "correct-horse-battery-staple-42"
DEMO_CLIENT_ID = "demo-rp"
DEMO_REDIRECTS = ["http://localhost:8080/callback", "https://oidcdebugger.com/debug"]


def _keys() -> KeyStore:
    return current_app.extensions["idp.oidc"].keys


@click.group("keys")
def keys_cli() -> None:
    """Signing keys (JWK files in the keys directory)."""


@keys_cli.command("generate")
@with_appcontext
def keys_generate() -> None:
    """Create RS256 and ES256 keys where missing."""
    created = _keys().ensure()
    click.echo(f"created: {', '.join(created)}" if created else "keys already present")


@keys_cli.command("rotate")
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), default=None)
@with_appcontext
def keys_rotate(alg: str | None) -> None:
    """New keys sign from now on; old ones stay published until retired."""
    for kid in _keys().rotate(alg):
        click.echo(f"new signing key: {kid}")


@keys_cli.command("retire")
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
    """Show keys, their algorithm and which sign."""
    for info in _keys().list():
        click.echo(
            f"{info.kid}  {info.alg}  {info.created_at:%Y-%m-%d}  {'active' if info.active else ''}"
        )


@click.group("user")
def user_cli() -> None:
    """Users."""


def create_user(
    *,
    email: str,
    password: str | None,
    name: str = "",
    admin: bool = False,
    activated: bool = False,
) -> User:
    """Create a user; the password must pass the password policy."""
    email = normalize_email(email)
    if User.by_email(email):
        raise click.ClickException(f"a user with email {email} already exists")
    user = User(email=email, name=name, is_admin=admin, roles=[])
    if password is not None:
        try:
            check_new_password(password, user_inputs=[email, name])
        except WeakPassword as exc:
            raise click.ClickException(f"password refused: {exc.reason}") from exc
        current_app.extensions["idp.passwords"].set_password(user, password, now=now())
    if activated:
        user.activated_at = now()
        user.email_verified = True
    db.session.add(user)
    db.session.commit()
    audit.record("user.created", user_id=user.id, via="cli", admin=admin)
    return user


@user_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--admin", is_flag=True, help="Give the admin role.")
@with_appcontext
def user_create(email: str, name: str, password: str, admin: bool) -> None:
    """Create a user; they prove their email and enroll a second factor at first sign-in."""
    user = create_user(email=email, password=password, name=name, admin=admin)
    click.echo(f"created user {user.email} (sub {user.subject})")


@click.group("client")
def client_cli() -> None:
    """OIDC clients (relying parties)."""


def create_client(
    *,
    name: str,
    redirect_uris: list[str],
    public: bool = False,
    first_party: bool = False,
    post_logout_redirect_uris: list[str] | None = None,
    client_id: str | None = None,
    grant_types: list[str] | None = None,
    mfa: str = "any",
) -> tuple[Client, str | None]:
    """Register a client; returns it and its secret (shown once, stored hashed)."""
    import secrets

    client = Client(
        client_id=client_id or secrets.token_urlsafe(16),
        name=name,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_redirect_uris or []),
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        grant_types=grant_types or ["authorization_code", "refresh_token"],
        first_party=first_party,
        mfa_policy=mfa,
    )
    secret = None if public else client.set_secret()
    db.session.add(client)
    db.session.commit()
    audit.record("client.created", client_id=client.client_id, via="cli")
    return client, secret


@client_cli.command("create")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--post-logout-redirect-uri", "logout_uris", multiple=True)
@click.option("--public", is_flag=True, help="No secret; PKCE required (SPA, mobile).")
@click.option("--first-party", is_flag=True, help="Skip the consent screen.")
@click.option("--grant-type", "grant_types", multiple=True)
@click.option("--mfa", type=click.Choice(["any", "phishing_resistant"]), default="any")
@with_appcontext
def client_create(
    name: str,
    redirect_uris: tuple[str, ...],
    logout_uris: tuple[str, ...],
    public: bool,
    first_party: bool,
    grant_types: tuple[str, ...],
    mfa: str,
) -> None:
    """Register a client and print its credentials (the secret only this once)."""
    client, secret = create_client(
        name=name,
        redirect_uris=list(redirect_uris),
        public=public,
        first_party=first_party,
        post_logout_redirect_uris=list(logout_uris),
        grant_types=list(grant_types) or None,
        mfa=mfa,
    )
    click.echo(f"client_id:     {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}   (shown once; only its hash is stored)")


@client_cli.command("list")
@with_appcontext
def client_list() -> None:
    """Registered clients."""
    for client in db.session.scalars(select(Client).order_by(Client.id)):
        kind = "public" if client.is_public else "confidential"
        click.echo(f"{client.client_id}  {client.name}  {kind}  {' '.join(client.redirect_uris)}")


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Seed a demo user and client and print how to use them (development only)."""
    _keys().ensure()
    settings = current_app.extensions["idp.settings"]
    user = User.by_email(DEMO_EMAIL)
    if user is None:
        user = create_user(
            email=DEMO_EMAIL, password=DEMO_PASSWORD, name="Demo User", activated=True
        )
    client = Client.by_client_id(DEMO_CLIENT_ID)
    if client is None:
        client, secret = create_client(
            name="Demo App",
            redirect_uris=DEMO_REDIRECTS,
            first_party=True,
            client_id=DEMO_CLIENT_ID,
            post_logout_redirect_uris=["http://localhost:8080/"],
        )
    else:
        secret = client.set_secret()  # the old one can't be shown: issue a fresh one
        db.session.commit()
    click.echo("")
    click.echo(f"  Discovery:     {settings.issuer}/.well-known/openid-configuration")
    click.echo(f"  Demo user:     {DEMO_EMAIL} / {DEMO_PASSWORD}")
    click.echo(f"  Demo client:   {client.client_id} / {secret}")
    click.echo(f"  Redirect URIs: {', '.join(client.redirect_uris)}")
    click.echo(f"  Outbox:        {settings.issuer}/dev/outbox  (email codes land here)")
    click.echo("")


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app's CLI."""
    for command in (keys_cli, user_cli, client_cli, demo):
        app.cli.add_command(command)


def main() -> None:
    """Entry point of the `idp` console script."""
    from idp import create_app
    from idp.config import ConfigError, load_settings

    try:
        load_settings()
    except ConfigError as exc:
        raise SystemExit(f"idp: configuration error: {exc}") from None
    FlaskGroup(create_app=lambda: create_app())(prog_name="idp")
