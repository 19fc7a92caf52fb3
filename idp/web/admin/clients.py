"""Console: register, edit, disable, delete clients; rotate secrets (shown once)."""

from __future__ import annotations

from typing import Any

from flask import flash, g, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response  # what redirect() returns; flask's is a subclass

from idp.branding import MAX_LOGO_BYTES
from idp.manage import client_logos, clients
from idp.manage.errors import Invalid
from idp.models.client import Client
from idp.web.admin import back_to, bp, checkbox, lines
from idp.web.admin.confirmations import ask, confirmation, confirmed, typed_matches


def _form_data(*, creating: bool) -> dict[str, Any]:
    """The client form as the service's input (types as the JSON API sends them)."""
    form = request.form
    days = form.get("remember_days", "").strip()
    data: dict[str, Any] = {
        "name": form.get("name", ""),
        "logo_uri": form.get("logo_uri", ""),
        "redirect_uris": lines("redirect_uris"),
        "post_logout_redirect_uris": lines("post_logout_redirect_uris"),
        "token_endpoint_auth_method": form.get("token_endpoint_auth_method", ""),
        "grant_types": form.getlist("grant_types"),
        "scopes": form.getlist("scopes"),
        "first_party": checkbox("first_party"),
        "mfa_policy": form.get("mfa_policy", ""),
        "remember_device": checkbox("remember_device"),
        "remember_days": int(days) if days.isdigit() and len(days) < 6 else days,
        "passkey_signin": checkbox("passkey_signin"),
        "passkey_offer": checkbox("passkey_offer"),
        "id_token_signed_response_alg": form.get("id_token_signed_response_alg", ""),
        "backchannel_logout_uri": form.get("backchannel_logout_uri", ""),
        "backchannel_logout_session_required": checkbox("backchannel_logout_session_required"),
        "frontchannel_logout_uri": form.get("frontchannel_logout_uri", ""),
        "frontchannel_logout_session_required": checkbox("frontchannel_logout_session_required"),
        "brand_color": form.get("brand_color", ""),
        "support_email": form.get("support_email", ""),
        "support_phone": form.get("support_phone", ""),
        "support_url": form.get("support_url", ""),
    }
    if "access_token_format" in form:  # a form from before the field leaves it unchanged
        data["access_token_format"] = form["access_token_format"]
    if creating:
        data["client_id"] = form.get("client_id", "")
    return data


def _uploaded_logo() -> bytes | None:
    """The uploaded logo file's bytes (checked), None without one; Invalid if refused."""
    upload = request.files.get("logo_file")
    if upload is None or not upload.filename:
        return None
    data = upload.stream.read(MAX_LOGO_BYTES + 1)
    try:
        client_logos.check_image(data)
    except client_logos.LogoRefused as exc:
        raise client_logos.refused("logo_file", exc) from exc
    return data


def _save_logo(client: Client, data: bytes | None) -> None:
    if data is not None:
        clients.set_logo(client, data, actor=g.actor)
    elif checkbox("remove_logo"):
        clients.remove_logo(client, actor=g.actor)


def _render_form(
    values: dict[str, Any], *, client: Client | None, errors: Invalid | None = None
) -> tuple[str, int]:
    return render_template(
        "admin/client_form.html",
        values=values,
        client=client,
        errors=errors.errors if errors else [],
        error=errors.message if errors else None,
        choices=clients,
    ), 422 if errors else 200


def _secret_page(client: Client, secret: str, *, reason: str) -> str:
    """The secret, this once; the page is no-store and the secret is never kept."""
    return render_template("admin/client_secret.html", client=client, secret=secret, reason=reason)


@bp.get("/clients")
def client_list() -> str:
    """All clients, optionally filtered by name or client_id."""
    query = request.args.get("q", "")
    return render_template("admin/clients.html", clients=clients.search(query), q=query)


@bp.route("/clients/new", methods=["GET", "POST"])
def client_new() -> Response | str | tuple[str, int]:
    """Register a client; its secret is shown once."""
    if request.method == "GET":
        return _render_form(
            {"client_id": "", "name": "", **clients.new_client_values()}, client=None
        )
    data = _form_data(creating=True)
    try:
        logo = _uploaded_logo()
        client, secret = clients.create(data, actor=g.actor)
    except Invalid as exc:
        return _render_form(data, client=None, errors=exc)
    _save_logo(client, logo)
    if secret is None:
        flash(_("Registered %(name)s (a public client: no secret).", name=client.name), "notice")
        return back_to("admin.client_view", client_id=client.client_id)
    return _secret_page(client, secret, reason="created")


def _detail(client: Client) -> dict[str, Any]:
    values = {f: getattr(client, f) for f in clients.FIELDS}
    return {
        "client": client,
        "values": values,
        "choices": clients,
        "errors": [],
        "error": None,
        "deliveries": clients.logout_deliveries(client),
    }


@bp.get("/clients/<client_id>")
def client_view(client_id: str) -> str:
    """A client's settings, editable, and its actions."""
    return render_template("admin/client.html", **_detail(clients.get(client_id)))


@bp.post("/clients/<client_id>")
def client_update(client_id: str) -> Response | str | tuple[str, int]:
    """Save the edited settings."""
    client = clients.get(client_id)
    data = _form_data(creating=False)
    try:
        logo = _uploaded_logo()
        client, secret = clients.update(client, data, actor=g.actor)
    except Invalid as exc:
        return _render_form(data, client=client, errors=exc)
    _save_logo(client, logo)
    if secret:
        return _secret_page(client, secret, reason="confidential")
    flash(_("Saved."), "notice")
    return back_to("admin.client_view", client_id=client.client_id)


@bp.post("/clients/<client_id>/rotate-secret")
def client_rotate_secret(client_id: str) -> str | tuple[str, int]:
    """A new secret; the old one stops working now (after the admin confirmed)."""
    client = clients.get(client_id)
    if not confirmed():
        c = confirmation("rotate_secret", client=client.name)
        return ask(c, back=url_for("admin.client_view", client_id=client_id), title=client.name)
    secret = clients.rotate_secret(client, actor=g.actor)
    return _secret_page(client, secret, reason="rotated")


@bp.post("/clients/<client_id>/disable")
def client_disable(client_id: str) -> Response:
    """Stop the client signing anyone in; its tokens stop working."""
    clients.set_disabled(clients.get(client_id), True, actor=g.actor)
    flash(_("Disabled. Its tokens were revoked."), "notice")
    return back_to("admin.client_view", client_id=client_id)


@bp.post("/clients/<client_id>/enable")
def client_enable(client_id: str) -> Response:
    """Let a disabled client sign people in again."""
    clients.set_disabled(clients.get(client_id), False, actor=g.actor)
    flash(_("Enabled."), "notice")
    return back_to("admin.client_view", client_id=client_id)


@bp.post("/clients/<client_id>/delete")
def client_delete(client_id: str) -> Response | tuple[str, int]:
    """Delete, after the admin confirmed by typing the client_id."""
    client = clients.get(client_id)
    if not typed_matches(client.client_id, fold_case=False):  # typing it is the confirmation
        c = confirmation("delete_client", client=client.name, client_id=client.client_id)
        typed = "confirm" in request.form
        wrong = _("Type the client_id exactly as shown.") if typed else None
        back = url_for("admin.client_view", client_id=client_id)
        return ask(c, back=back, title=client.name, error=wrong)
    name = client.name
    clients.remove(client, actor=g.actor)
    flash(_("Deleted %(name)s.", name=name), "notice")
    return back_to("admin.client_list")
