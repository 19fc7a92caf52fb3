"""`idp client ...`: register, update, rotate the secret, disable, delete."""

from __future__ import annotations

from collections.abc import Callable
from io import BufferedIOBase
from typing import BinaryIO

import click
from flask.cli import with_appcontext

from idp.branding import MAX_LOGO_BYTES
from idp.manage import clients
from idp.manage.actor import CLI
from idp.manage.commands import echo_json, reported
from idp.models.client import Client


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
    data: dict[str, object] = {
        "name": name,
        "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": list(post_logout_redirect_uris or []),
        "token_endpoint_auth_method": "none" if public else "client_secret_basic",
        "first_party": first_party,
        "mfa_policy": mfa,
    }
    if client_id:
        data["client_id"] = client_id
    if grant_types:
        data["grant_types"] = list(grant_types)
    with reported():
        return clients.create(data, actor=CLI)


def _client_options(command: Callable[..., None]) -> Callable[..., None]:
    """The settings `client create` and `client update` share; unset ones are left alone."""
    options = [
        click.option("--name", default=None),
        click.option(
            "--logo-uri",
            default=None,
            help="https URL of the logo, fetched once now and served by us; '' removes it.",
        ),
        click.option(
            "--logo-file",
            type=click.File("rb"),
            default=None,
            help="A PNG, JPEG or WebP file (at most 256 KiB) as the logo.",
        ),
        click.option("--brand-color", default=None, help="#rrggbb; '' for the global colour."),
        click.option("--support-email", default=None, help="'' for the global contact."),
        click.option("--support-phone", default=None),
        click.option("--support-url", default=None, help="https URL of the app's help desk."),
        click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeatable."),
        click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True),
        click.option(
            "--auth-method",
            "token_endpoint_auth_method",
            type=click.Choice(clients.AUTH_METHODS),
            default=None,
        ),
        click.option(
            "--grant-type", "grant_types", multiple=True, type=click.Choice(clients.GRANT_TYPES)
        ),
        click.option("--scope", "scopes", multiple=True, type=click.Choice(clients.SCOPES)),
        click.option(
            "--first-party/--third-party", "first_party", default=None, help="Skip consent."
        ),
        click.option("--mfa", "mfa_policy", type=click.Choice(clients.MFA_POLICIES), default=None),
        click.option("--remember-device/--no-remember-device", "remember_device", default=None),
        click.option("--remember-days", type=int, default=None),
        click.option("--passkey-signin/--no-passkey-signin", "passkey_signin", default=None),
        click.option(
            "--passkey-offer/--no-passkey-offer",
            "passkey_offer",
            default=None,
            help="After a sign-in with a code, offer to create a passkey.",
        ),
        click.option(
            "--alg",
            "id_token_signed_response_alg",
            type=click.Choice(clients.SIGNING_ALGS),
            default=None,
        ),
        click.option(
            "--access-token-format",
            "access_token_format",
            type=click.Choice(clients.ACCESS_TOKEN_FORMATS),
            default=None,
            help="jwt: RFC 9068 signed access tokens, verified without the database.",
        ),
        click.option(
            "--backchannel-logout-uri",
            default=None,
            help="Where logout tokens are POSTed; '' removes it.",
        ),
        click.option(
            "--backchannel-logout-session-required/--no-backchannel-logout-session-required",
            "backchannel_logout_session_required",
            default=None,
        ),
        click.option(
            "--frontchannel-logout-uri",
            default=None,
            help="Framed on the signed-out page; '' removes it.",
        ),
        click.option(
            "--frontchannel-logout-session-required/--no-frontchannel-logout-session-required",
            "frontchannel_logout_session_required",
            default=None,
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _client_data(values: dict[str, object]) -> dict[str, object]:
    """Options given on the command line, as the service's input."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if v not in (None, ())
    }


def _logo_bytes(file: object) -> bytes | None:
    """The --logo-file's first bytes (enough to refuse one too large), or None."""
    if not isinstance(file, BufferedIOBase | BinaryIO):
        return None
    return file.read(MAX_LOGO_BYTES + 1)


def _print_credentials(client: Client, secret: str | None) -> None:
    click.echo(f"client_id:     {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}   (shown once; only its hash is stored)")


@client_cli.command("create")
@_client_options
@click.option("--client-id", default=None, help="Default: random.")
@click.option("--public", is_flag=True, help="No secret; PKCE required (SPA, mobile).")
@with_appcontext
def client_create(client_id: str | None, public: bool, **values: object) -> None:
    """Register a client and print its credentials (the secret only this once)."""
    logo = _logo_bytes(values.pop("logo_file"))
    data = _client_data(values)
    if public:
        data["token_endpoint_auth_method"] = "none"
    if client_id:
        data["client_id"] = client_id
    with reported():
        client, secret = clients.create(data, actor=CLI)
        if logo is not None:
            clients.set_logo(client, logo, actor=CLI)
    _print_credentials(client, secret)


def _client(client_id: str) -> Client:
    with reported():
        return clients.get(client_id)


@client_cli.command("update")
@click.argument("client_id")
@_client_options
@with_appcontext
def client_update(client_id: str, **values: object) -> None:
    """Change the settings given; others stay as they are."""
    logo = _logo_bytes(values.pop("logo_file"))
    with reported():
        client, secret = clients.update(_client(client_id), _client_data(values), actor=CLI)
        if logo is not None:
            clients.set_logo(client, logo, actor=CLI)
    click.echo(f"updated {client.client_id}")
    if secret:
        _print_credentials(client, secret)


@client_cli.command("rotate-secret")
@click.argument("client_id")
@with_appcontext
def client_rotate_secret(client_id: str) -> None:
    """Issue a new secret (shown once); the old one stops working."""
    client = _client(client_id)
    with reported():
        secret = clients.rotate_secret(client, actor=CLI)
    _print_credentials(client, secret)


@client_cli.command("disable")
@click.argument("client_id")
@with_appcontext
def client_disable(client_id: str) -> None:
    """Disable a client; its tokens are revoked."""
    clients.set_disabled(_client(client_id), True, actor=CLI)
    click.echo(f"disabled {client_id}")


@client_cli.command("enable")
@click.argument("client_id")
@with_appcontext
def client_enable(client_id: str) -> None:
    """Enable a disabled client."""
    clients.set_disabled(_client(client_id), False, actor=CLI)
    click.echo(f"enabled {client_id}")


@client_cli.command("delete")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def client_delete(client_id: str, yes: bool) -> None:
    """Delete a client, revoking its tokens and device trust."""
    client = _client(client_id)
    if not yes:
        click.confirm(f"Delete {client.name} ({client.client_id}) for good?", abort=True)
    clients.remove(client, actor=CLI)
    click.echo(f"deleted {client_id}")


@client_cli.command("show")
@click.argument("client_id")
@with_appcontext
def client_show(client_id: str) -> None:
    """A client's settings as JSON."""
    echo_json(clients.as_dict(_client(client_id)))


@client_cli.command("list")
@with_appcontext
def client_list() -> None:
    """Registered clients."""
    for client in clients.search():
        kind = "public" if client.is_public else "confidential"
        state = "  disabled" if client.disabled else ""
        click.echo(
            f"{client.client_id}  {client.name}  {kind}  {' '.join(client.redirect_uris)}{state}"
        )
