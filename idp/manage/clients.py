"""Registering and maintaining relying parties: validation, secrets, and the trust they imply."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from idp import audit
from idp.authn.state import MfaPolicy
from idp.branding import check_color
from idp.clock import now
from idp.config import Settings
from idp.database import commit_unless_in_request
from idp.extensions import db
from idp.manage import client_logos
from idp.manage.actor import Actor
from idp.manage.errors import Conflict, FieldError, Invalid, NotFound, Refused
from idp.manage.payload import Payload
from idp.models.authorization_code import AuthorizationCode
from idp.models.client import Client
from idp.models.consent import Consent
from idp.models.logout_delivery import LogoutDelivery
from idp.models.token import Token
from idp.models.trusted_device import TrustedDevice

ADMIN_SCOPE = "idp:admin"
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
SCOPES = ("openid", "profile", "email", "offline_access", "roles", ADMIN_SCOPE)
MFA_POLICIES = tuple(policy.value for policy in MfaPolicy)
SIGNING_ALGS = ("RS256", "ES256")
ACCESS_TOKEN_FORMATS = ("opaque", "jwt")  # jwt: RFC 9068, verified without the database
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_URIS = 20
CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{3,64}")
FIELDS = (
    "name",
    "logo_uri",
    "redirect_uris",
    "post_logout_redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "scopes",
    "first_party",
    "mfa_policy",
    "remember_device",
    "remember_days",
    "passkey_signin",
    "passkey_offer",
    "id_token_signed_response_alg",
    "access_token_format",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "frontchannel_logout_uri",
    "frontchannel_logout_session_required",
    "brand_color",
    "support_email",
    "support_phone",
    "support_url",
)
BRANDING = ("brand_color", "support_email", "support_phone", "support_url")
PHONE = re.compile(r"\+?[0-9][0-9 ().-]{2,38}")
LOGOUT_URIS = ("backchannel_logout_uri", "frontchannel_logout_uri")
LOGOUT_FLAGS = ("backchannel_logout_session_required", "frontchannel_logout_session_required")
DEFAULTS: dict[str, Any] = {
    "logo_uri": "",
    "redirect_uris": [],
    "post_logout_redirect_uris": [],
    "token_endpoint_auth_method": "client_secret_basic",
    "grant_types": ["authorization_code", "refresh_token"],
    "scopes": ["openid", "profile", "email", "offline_access"],
    "first_party": False,
    "mfa_policy": "any",
    "remember_device": True,
    "passkey_signin": True,
    "passkey_offer": True,
    "id_token_signed_response_alg": "RS256",
    "access_token_format": "opaque",
    "backchannel_logout_uri": None,
    "backchannel_logout_session_required": False,
    "frontchannel_logout_uri": None,
    "frontchannel_logout_session_required": False,
    "brand_color": None,
    "support_email": None,
    "support_phone": None,
    "support_url": None,
}


def check_redirect_uri(uri: str) -> str | None:
    """Why a redirect URI is refused, or None: https, or http on loopback; no fragment."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises ValueError for a malformed port)
    except ValueError:
        return _("is not a valid URL")
    if any(ch.isspace() for ch in uri):
        return _("must not contain spaces")
    if "#" in uri:
        return _("must not contain a fragment (OAuth 2.0 3.1.2)")
    if not parts.hostname:
        return _("must be an absolute URL with a host")
    if parts.username is not None or parts.password is not None:
        return _("must not contain a user name or password")
    # RFC 8252 7.3: plain http only on the loopback interface, for native apps and development.
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return None
    return _("must use https (http only on localhost, 127.0.0.1 or [::1])")


def _check_uris(payload: Payload, name: str, uris: list[str]) -> None:
    for uri in uris:
        problem = check_redirect_uri(uri)
        if problem:
            payload.fail(name, _("has %(uri)r, which %(problem)s", uri=uri[:80], problem=problem))


def _settings() -> Settings:
    return current_app.extensions["idp.settings"]


def _ceiling() -> int:
    return _settings().trust_ceiling_days


def new_client_values() -> dict[str, Any]:
    """What a new client starts with, remember_days included (it depends on the ceiling)."""
    return {**DEFAULTS, "remember_days": min(30, _ceiling())}


def _read(data: Any, *, current: Client | None) -> dict[str, Any]:
    """Validated field values: all of them on create, those present on update."""
    creating = current is None
    allowed = ("client_id", *FIELDS) if creating else FIELDS
    p = Payload(data, allowed=allowed)
    values: dict[str, Any] = {}
    if creating:
        client_id = p.text("client_id", max_len=64)
        if client_id and not CLIENT_ID.fullmatch(client_id):
            p.fail("client_id", _("must be 3 to 64 letters, digits, '.', '_', '~' or '-'"))
        values["client_id"] = client_id or secrets.token_urlsafe(16)
    for name, read in _readers(_ceiling()).items():
        if creating or name in p:
            values[name] = read(p, name)
    p.done()
    merged = {f: values[f] if f in values else getattr(current, f) for f in FIELDS}
    _check_consistent(merged)
    return values


Reader = Callable[[Payload, str], Any]


def _readers(ceiling: int) -> dict[str, Reader]:
    """Each field's reader, in the order their errors are reported."""
    readers: dict[str, Reader] = {
        "name": lambda p, name: p.text(name, max_len=120, required=True),
        "logo_uri": _read_logo_uri,
        "redirect_uris": _read_uris,
        "post_logout_redirect_uris": _read_uris,
        "token_endpoint_auth_method": lambda p, name: p.choice(name, DEFAULTS[name], AUTH_METHODS),
        "grant_types": lambda p, name: p.strings(
            name, DEFAULTS[name], max_items=3, choices=GRANT_TYPES
        ),
        "scopes": lambda p, name: p.strings(name, DEFAULTS[name], max_items=10, choices=SCOPES),
    }
    for flag in ("first_party", "remember_device", "passkey_signin", "passkey_offer"):
        readers[flag] = lambda p, name: p.boolean(name, DEFAULTS[name])
    readers |= {
        "mfa_policy": lambda p, name: p.choice(name, "any", MFA_POLICIES),
        "remember_days": lambda p, name: p.integer(name, min(30, ceiling), low=1, high=ceiling),
        "id_token_signed_response_alg": lambda p, name: p.choice(name, "RS256", SIGNING_ALGS),
        "access_token_format": lambda p, name: p.choice(name, "opaque", ACCESS_TOKEN_FORMATS),
    }
    readers |= dict.fromkeys(LOGOUT_URIS, _read_logout_uri)
    readers |= dict.fromkeys(LOGOUT_FLAGS, _read_logout_flag)
    readers |= dict.fromkeys(BRANDING, _read_branding)
    return readers


def _read_logo_uri(p: Payload, name: str) -> str:
    logo = p.text(name, max_len=500)
    schemes = ("https://", "http://") if _settings().logo_fetch_unsafe else ("https://",)
    if logo and (check_redirect_uri(logo) or not logo.startswith(schemes)):
        p.fail(name, _("must be an https URL"))
    return logo


def _read_uris(p: Payload, name: str) -> list[str]:
    uris = p.strings(name, DEFAULTS[name], max_items=MAX_URIS)
    _check_uris(p, name, uris)
    return uris


def _read_logout_uri(p: Payload, name: str) -> str | None:
    """Back-Channel Logout 1.0 2.2 / Front-Channel 2: absolute, no fragment; like a redirect
    URI, https (http only on loopback). Empty means not registered."""
    uri = p.text(name, max_len=500) if p.data.get(name) is not None else ""
    problem = check_redirect_uri(uri) if uri else None
    if problem:
        p.fail(name, _("has %(uri)r, which %(problem)s", uri=uri[:80], problem=problem))
    return uri or None


def _read_logout_flag(p: Payload, name: str) -> bool:
    return p.boolean(name, False) if p.data.get(name) is not None else False


BRANDING_LENGTHS = {"brand_color": 7, "support_email": 320, "support_phone": 40, "support_url": 500}


def _read_branding(p: Payload, name: str) -> str | None:
    """The client's own colour or support contact; empty or null means "the global one"."""
    value = p.text(name, max_len=BRANDING_LENGTHS[name]) if p.data.get(name) is not None else ""
    problem = _branding_problem(name, value.lower() if name == "brand_color" else value)
    if problem:
        p.fail(name, problem)
    if name == "brand_color":
        value = value.lower()
    return value or None


def _branding_problem(name: str, value: str) -> str | None:
    if not value:
        return None
    if name == "brand_color":
        return check_color(value)
    if name == "support_email":
        local, _at, domain = value.partition("@")
        if not local or "." not in domain or any(c.isspace() or c in "<>,;" for c in value):
            return _("must be an email address")
    elif name == "support_phone" and not PHONE.fullmatch(value):
        return _("must be a phone number: digits, spaces, + ( ) . -")
    elif name == "support_url" and (not value.startswith("https://") or check_redirect_uri(value)):
        return _("must be an https URL")
    return None


def _check_consistent(c: dict[str, Any]) -> None:
    """Rules across fields (RFC 6749 2.1 client types; our own admin scope)."""
    errors: list[FieldError] = []
    grants, scopes = set(c["grant_types"]), set(c["scopes"])
    public = c["token_endpoint_auth_method"] == "none"
    if not grants:
        errors.append(FieldError("grant_types", _("must include at least one grant type")))
    if "authorization_code" in grants and not c["redirect_uris"]:
        errors.append(
            FieldError("redirect_uris", _("must have one for the authorization code flow"))
        )
    if "refresh_token" in grants and "authorization_code" not in grants:
        errors.append(
            FieldError("grant_types", _("must include authorization_code to use refresh_token"))
        )
    if public and "client_credentials" in grants:
        errors.append(
            FieldError("grant_types", _("cannot include client_credentials for a public client"))
        )
    if ADMIN_SCOPE in scopes and (public or "client_credentials" not in grants):
        errors.append(
            FieldError(
                "scopes",
                _(
                    "can include %(scope)s only for confidential client_credentials clients",
                    scope=ADMIN_SCOPE,
                ),
            )
        )
    if errors:
        raise Invalid(_("The client settings contradict each other."), errors)


def get(client_id: str) -> Client:
    """A client by client_id, enabled or not."""
    found = None
    if 0 < len(client_id) <= 64 and "\x00" not in client_id:
        found = db.session.scalar(select(Client).where(Client.client_id == client_id))
    if found is None:
        raise NotFound(_("No client with that client_id."))
    return found


def search(query: str = "") -> list[Client]:
    """Clients whose name or client_id contains the query, by name."""
    statement = select(Client).order_by(func.lower(Client.name), Client.id)
    query = query.replace("\x00", "").strip()[:120]
    if query:
        like = f"%{query.lower()}%"
        statement = statement.where(
            or_(func.lower(Client.name).like(like), func.lower(Client.client_id).like(like))
        )
    return list(db.session.scalars(statement))


def _commit(message: str) -> None:
    # Flushed now so a taken client_id is a Conflict, not a failed commit at the request's end.
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(message) from exc
    commit_unless_in_request()


def create(data: Mapping[str, Any], *, actor: Actor) -> tuple[Client, str | None]:
    """Register a client; returns it and its secret (shown once, only its hash is stored)."""
    values = _read(data, current=None)
    if db.session.scalar(select(Client.id).where(Client.client_id == values["client_id"])):
        raise Conflict(_("That client_id is taken."))
    client = Client(**{**DEFAULTS, **values})
    _fetch_logo(client, values.get("logo_uri", ""), before="")
    secret = None if client.is_public else client.set_secret()
    db.session.add(client)
    audit.record("client.created", client_id=client.client_id, commit=False, **actor.detail())
    _commit(_("That client_id is taken."))
    return client, secret


def update(client: Client, data: Mapping[str, Any], *, actor: Actor) -> tuple[Client, str | None]:
    """Change some fields; returns a new secret when the client just became confidential."""
    values = _read(data, current=client)
    before = {f: getattr(client, f) for f in FIELDS}
    logo_before = client.logo_sha256
    if "logo_uri" in values:
        _fetch_logo(client, values["logo_uri"], before=before["logo_uri"])
    for name, value in values.items():
        setattr(client, name, value)
    changed = sorted(name for name in values if before[name] != values[name])
    if client.logo_sha256 != logo_before:
        changed.append("logo")
    secret = None
    if client.is_public:
        client.secret_hash = None
    elif client.secret_hash is None:
        secret = client.set_secret()
    trust = _limit_trust(client, before, at=now())
    audit.record(
        "client.updated",
        client_id=client.client_id,
        commit=False,
        changed=changed,
        trusted_devices_revoked=trust,
        **actor.detail(),
    )
    _commit(_("The change clashes with another client."))
    return client, secret


def _fetch_logo(client: Client, uri: str, *, before: str) -> None:
    """A new logo URL is fetched now, once; clearing the URL drops the logo it brought."""
    if uri and (uri != before or not client.logo_sha256):
        settings = _settings()
        try:
            data = client_logos.fetch(
                uri,
                unsafe=settings.logo_fetch_unsafe,
                timeout=settings.logo_fetch_timeout_seconds,
            )
        except client_logos.LogoRefused as exc:
            raise client_logos.refused("logo_uri", exc) from exc
        client_logos.store(client, data)
    elif not uri and before:
        client_logos.drop(client)


def set_logo(client: Client, data: bytes, *, actor: Actor) -> None:
    """An uploaded logo replaces the client's (and any URL it came from)."""
    try:
        client_logos.check_image(data)
    except client_logos.LogoRefused as exc:
        raise client_logos.refused("logo", exc) from exc
    client_logos.store(client, data)
    _logo_changed(client, actor)


def remove_logo(client: Client, *, actor: Actor) -> None:
    """The client's sign-in shows the global logo again."""
    client_logos.drop(client)
    _logo_changed(client, actor)


def _logo_changed(client: Client, actor: Actor) -> None:
    """A logo stored or dropped outright: no URL behind it any more; audited."""
    client.logo_uri = ""
    audit.record(
        "client.updated",
        client_id=client.client_id,
        commit=False,
        changed=["logo"],
        trusted_devices_revoked=0,
        **actor.detail(),
    )
    commit_unless_in_request()


def _limit_trust(client: Client, before: dict[str, Any], *, at: datetime) -> int:
    """DESIGN.md: raising the MFA policy or refusing remembered devices ends their trust."""
    raised = before["mfa_policy"] == "any" and client.mfa_policy != "any"
    if raised or (before["remember_device"] and not client.remember_device):
        return TrustedDevice.revoke_where(
            TrustedDevice.client_id == client.client_id, at=at, reason="client_policy"
        )
    if client.remember_days < before["remember_days"]:
        # Fewer days: live trust ends no later than the new number of days after it began.
        live = db.session.scalars(
            select(TrustedDevice).where(
                TrustedDevice.client_id == client.client_id, TrustedDevice.revoked_at.is_(None)
            )
        )
        for record in live:
            end = record.created_at + timedelta(days=client.remember_days)
            record.expires_at = min(record.expires_at, end)
    return 0


def rotate_secret(client: Client, *, actor: Actor) -> str:
    """A new secret; the old one stops working at once."""
    if client.is_public:
        raise Refused(_("A public client has no secret."))
    secret = client.set_secret()
    audit.record(
        "client.secret_rotated", client_id=client.client_id, commit=False, **actor.detail()
    )
    commit_unless_in_request()
    return secret


def set_disabled(client: Client, disabled: bool, *, actor: Actor) -> None:
    """Disable (its tokens stop working at once) or enable a client."""
    client.disabled = disabled
    revoked = Token.revoke_where(Token.client_id == client.client_id) if disabled else 0
    event = "client.disabled" if disabled else "client.enabled"
    audit.record(
        event, client_id=client.client_id, commit=False, tokens_revoked=revoked, **actor.detail()
    )
    commit_unless_in_request()


def remove(client: Client, *, actor: Actor) -> None:
    """Delete a client: its tokens, codes, consents and device trust go with it."""
    client_id = client.client_id
    revoked = Token.revoke_where(Token.client_id == client_id)
    TrustedDevice.revoke_where(
        TrustedDevice.client_id == client_id, at=now(), reason="client_deleted"
    )
    db.session.execute(delete(AuthorizationCode).where(AuthorizationCode.client_id == client_id))
    db.session.execute(delete(Consent).where(Consent.client_id == client_id))
    client_logos.drop(client)
    db.session.delete(client)
    audit.record(
        "client.deleted",
        client_id=client_id,
        commit=False,
        tokens_revoked=revoked,
        **actor.detail(),
    )
    commit_unless_in_request()


def as_dict(client: Client) -> dict[str, Any]:
    """The API's representation (never the secret or its hash)."""
    found = {"client_id": client.client_id, **{f: getattr(client, f) for f in FIELDS}}
    found["client_type"] = "public" if client.is_public else "confidential"
    found["disabled"] = bool(client.disabled)
    found["created_at"] = client.created_at.isoformat() + "Z" if client.created_at else None
    for name in ("redirect_uris", "post_logout_redirect_uris", "grant_types", "scopes"):
        found[name] = list(found[name] or [])
    for name in LOGOUT_FLAGS:
        found[name] = bool(found[name])
    found["logo_url"] = (
        f"{current_app.extensions['idp.settings'].issuer}/branding/{client.client_id}/logo"
        f"?v={client.logo_sha256[:16]}"
        if client.logo_sha256
        else None
    )
    return found


def logout_deliveries(client: Client, limit: int = 20) -> list[LogoutDelivery]:
    """The client's newest back-channel logout deliveries and how each went."""
    return LogoutDelivery.recent(client.client_id, limit)
