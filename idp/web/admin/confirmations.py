"""Destructive console actions ask first, in plain words, with or without JavaScript.

The user and client pages show each such action as a <details> step holding the real form; a
POST that does not carry `confirmed=yes` (an old form, a browser without <details>) gets a
confirmation page instead of the action. The words live here, once, for both.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request
from flask_babel import gettext as _


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What the admin is about to do: the step's label, what happens, the button."""

    label: str
    what: str
    button: str
    typed: str = ""  # the text to type (an email or client_id), or "" for none
    typed_label: str = ""


def confirmation(kind: str, **names: str) -> Confirmation:
    """The words for one destructive action; `names` fill them in (email, client, ...)."""
    if kind == "reset_mfa":
        return Confirmation(
            _("Reset second factors"),
            _(
                "Removes the authenticator apps, security keys, passkeys and recovery codes of "
                "%(email)s, forgets their trusted devices and signs them out everywhere. At their "
                "next sign-in they confirm their email and set up a new second factor. We email "
                "them about it.",
                **names,
            ),
            _("Yes, reset their second factors"),
        )
    if kind == "delete_user":
        return Confirmation(
            _("Delete user"),
            _(
                "Deletes the account of %(email)s with its factors, sessions, tokens and consents. "
                "Their apps stop working for them at once. The audit events are kept. This cannot "
                "be undone.",
                **names,
            ),
            _("Delete this account"),
            typed=names["email"],
            typed_label=_("To delete the account, type its email address"),
        )
    if kind == "revoke_devices":
        return Confirmation(
            _("Revoke all trusted devices"),
            _(
                "Every trusted device of %(email)s will be asked for the second step again at "
                "its next sign-in.",
                **names,
            ),
            _("Yes, revoke all trusted devices"),
        )
    if kind == "revoke_device":
        return Confirmation(
            _("Revoke"),
            _(
                "This device (%(device)s) will be asked for the second step again at its next "
                "sign-in to %(client)s.",
                **names,
            ),
            _("Yes, revoke this device"),
        )
    if kind == "end_session":
        return Confirmation(
            _("Sign out"),
            _(
                "Signs %(email)s out of this browser (%(device)s). The apps it signed in to are "
                "told, and their tokens from this sign-in stop working.",
                **names,
            ),
            _("Yes, sign out this browser"),
        )
    if kind == "sign_out_everywhere":
        return Confirmation(
            _("Sign out everywhere"),
            _(
                "Signs %(email)s out of every browser, revokes the tokens their apps hold and "
                "forgets their trusted devices, as their own \u201csign out everywhere\u201d does. "
                "The apps are told.",
                **names,
            ),
            _("Yes, sign them out everywhere"),
        )
    if kind == "rotate_secret":
        return Confirmation(
            _("Rotate secret"),
            _(
                "Makes a new secret for %(client)s. The current secret stops working at once: "
                "the app cannot get tokens until it is given the new one.",
                **names,
            ),
            _("Yes, make a new secret"),
        )
    if kind == "delete_client":
        return Confirmation(
            _("Delete client"),
            _(
                "Deletes %(client)s: its tokens stop working and its consents and trusted devices "
                "are removed. People can no longer sign in to it. This cannot be undone.",
                **names,
            ),
            _("Delete this client"),
            typed=names["client_id"],
            typed_label=_("To delete, type the client_id"),
        )
    raise KeyError(kind)


def confirmed() -> bool:
    """The form came from a confirmation step (the <details> form or the confirmation page)."""
    return request.form.get("confirmed") == "yes"


def typed_matches(expected: str, *, fold_case: bool) -> bool:
    """The admin typed the email or client_id the confirmation asks for."""
    typed = request.form.get("confirm", "").strip()
    return typed.lower() == expected.lower() if fold_case else typed == expected


def ask(c: Confirmation, *, back: str, title: str, error: str | None = None) -> tuple[str, int]:
    """The confirmation page: what will happen, the confirm button (posting here), Cancel."""
    return render_template(
        "admin/confirm.html",
        c=c,
        action=request.path,
        back=back,
        title=title,
        error=error,
        typed=request.form.get("confirm", ""),
    ), 422 if error else 200
