"""`idp user ...`: create, invite, import, support and admin role."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import with_appcontext

from idp.clock import now
from idp.manage import importer, invitations, user_detail, users
from idp.manage.actor import CLI
from idp.manage.commands import echo_json, reported
from idp.models.user import User


@click.group("user")
def user_cli() -> None:
    """Users: create, invite, import, support (unlock, reset MFA, disable), admins."""


def create_user(
    *,
    email: str,
    password: str | None,
    name: str = "",
    admin: bool = False,
    activated: bool = False,
) -> User:
    """Create a user; the password must pass the password policy."""
    data = {"email": email, "name": name, "is_admin": admin, "send_invitation": False}
    with reported():
        return users.create(data, actor=CLI, password=password, activated=activated)


def _user(email: str) -> User:
    with reported():
        return users.by_email(email)


@user_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--password", default=None, help="Prompted for unless --invite.")
@click.option("--invite", is_flag=True, help="Email an activation link instead of a password.")
@click.option("--role", "roles", multiple=True, help="A role for the roles claim (repeatable).")
@click.option("--admin", is_flag=True, help="Give the admin role.")
@with_appcontext
def user_create(
    email: str, name: str, password: str | None, invite: bool, roles: tuple[str, ...], admin: bool
) -> None:
    """Create a user; they prove their email and enroll a second factor at first sign-in."""
    if password is None and not invite:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    data = {"email": email, "name": name, "roles": list(roles), "is_admin": admin}
    with reported():
        user = users.create({**data, "send_invitation": invite}, actor=CLI, password=password)
    click.echo(f"created user {user.email} (sub {user.subject})" + (", invited" if invite else ""))


@user_cli.command("list")
@click.option("--search", default="", help="Email or name contains.")
@with_appcontext
def user_list(search: str) -> None:
    """Users and their status."""
    found, total = users.search(search, limit=1000)
    for user in found:
        admin = "  admin" if user.is_admin else ""
        click.echo(f"{user.email}  {users.status(user, now())}  {user.subject}{admin}")
    click.echo(f"{total} user(s)")


@user_cli.command("show")
@click.argument("email")
@with_appcontext
def user_show(email: str) -> None:
    """A user as JSON, with factors and trusted devices."""
    echo_json(user_detail.as_dict(_user(email), with_detail=True))


@user_cli.command("update")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--given-name", default=None)
@click.option("--family-name", default=None)
@click.option("--locale", default=None)
@click.option("--role", "roles", multiple=True, help="Replaces the roles (repeatable).")
@click.option("--clear-roles", is_flag=True)
@with_appcontext
def user_update(email: str, roles: tuple[str, ...], clear_roles: bool, **names: str | None) -> None:
    """Change names, locale or roles."""
    data: dict[str, object] = {k: v for k, v in names.items() if v is not None}
    if roles or clear_roles:
        data["roles"] = list(roles)
    with reported():
        users.update(_user(email), data, actor=CLI)
    click.echo("updated")


def _user_action(name: str, help_text: str, act: Callable[[User], object], done: str) -> None:
    @user_cli.command(name, help=help_text)
    @click.argument("email")
    @with_appcontext
    def command(email: str) -> None:
        with reported():
            act(_user(email))
        click.echo(f"{email}: {done}")


_user_action(
    "disable",
    "Disable: end sessions, revoke tokens and trusted devices.",
    lambda u: users.set_disabled(u, True, actor=CLI),
    "disabled",
)
_user_action(
    "enable",
    "Enable a disabled account.",
    lambda u: users.set_disabled(u, False, actor=CLI),
    "enabled",
)
_user_action(
    "unlock",
    "Lift password and second-factor lock-outs.",
    lambda u: users.unlock(u, actor=CLI),
    "unlocked",
)
_user_action(
    "reset-mfa",
    "Lost phone: remove factors, recovery codes and trust; sign out; email the user.",
    lambda u: users.reset_mfa(u, actor=CLI),
    "second factors reset; they enroll again at next sign-in",
)
_user_action(
    "grant-admin",
    "Give the admin role.",
    lambda u: users.set_admin(u, True, actor=CLI),
    "now an admin",
)
_user_action(
    "revoke-admin",
    "Take the admin role away.",
    lambda u: users.set_admin(u, False, actor=CLI),
    "no longer an admin",
)
_user_action(
    "revoke-trust",
    "End trust for all of the user's devices (their next sign-ins are challenged).",
    lambda u: users.revoke_trust(u, actor=CLI),
    "trusted devices revoked",
)
_user_action(
    "sign-out-everywhere",
    "End every session, revoke tokens and trusted devices; the apps get logout tokens.",
    lambda u: users.sign_out_everywhere(u, actor=CLI),
    "signed out everywhere",
)
_user_action(
    "invite",
    "Email a fresh activation link (the older one stops working).",
    lambda u: invitations.send(u, actor=CLI, at=now()),
    "invitation sent",
)


@user_cli.command("sessions")
@click.argument("email")
@with_appcontext
def user_sessions(email: str) -> None:
    """Where the user is signed in, as JSON (sid, browser, place, times, apps)."""
    echo_json(user_detail.sessions_as_dicts(users.browser_sessions(_user(email))))


# A sid may begin with "-" (base64url): not an option here, and never a usage error.
@user_cli.command("end-session", context_settings={"ignore_unknown_options": True})
@click.argument("email")
@click.argument("sid")
@with_appcontext
def user_end_session(email: str, sid: str) -> None:
    """Sign the user out of one browser (its sid from `idp user sessions`)."""
    with reported():
        revoked = users.end_session(_user(email), sid, actor=CLI)
    click.echo(f"{email}: signed out of session {sid[:8]}…, {revoked} token(s) revoked")


@user_cli.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def user_delete(email: str, yes: bool) -> None:
    """Delete an account (its audit events are kept)."""
    user = _user(email)
    if not yes:
        click.confirm(f"Delete {user.email} for good?", abort=True)
    with reported():
        users.remove(user, actor=CLI)
    click.echo(f"deleted {email}")


@user_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def user_import(path: str) -> None:
    """Import users from CSV or JSON with existing password hashes: all rows, or none."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise click.ClickException("the file must be UTF-8 text") from exc
    with reported():
        result = importer.import_users(importer.parse(path, text), actor=CLI)
    schemes = ", ".join(f"{n} {s}" for s, n in sorted(result.by_scheme.items()))
    click.echo(f"imported {result.created} user(s) ({schemes})")
