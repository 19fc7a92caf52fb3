"""The name a person reads for each admin input field (the API keeps the machine name)."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

LABELS: dict[str, LazyString] = {
    # Clients
    "client_id": _l("Client ID"),
    "name": _l("Name"),
    "logo_uri": _l("Logo URL"),
    "logo_file": _l("Logo file"),
    "brand_color": _l("Primary colour"),
    "support_email": _l("Support email"),
    "support_phone": _l("Support phone"),
    "support_url": _l("Support web page"),
    "passkey_offer": _l("Offer to create a passkey"),
    "redirect_uris": _l("Redirect URIs"),
    "post_logout_redirect_uris": _l("Post-logout redirect URIs"),
    "token_endpoint_auth_method": _l("Client type and token endpoint authentication"),
    "grant_types": _l("Grant types"),
    "scopes": _l("Allowed scopes"),
    "first_party": _l("First-party"),
    "mfa_policy": _l("Second factor"),
    "remember_device": _l("Offer “Do not challenge me on this device”"),
    "remember_days": _l("Remember devices for (days)"),
    "passkey_signin": _l("Offer sign-in with a passkey"),
    "id_token_signed_response_alg": _l("ID token signing algorithm"),
    "access_token_format": _l("Access token format"),
    "backchannel_logout_uri": _l("Back-channel logout URI"),
    "backchannel_logout_session_required": _l("Back-channel logout needs sid"),
    "frontchannel_logout_uri": _l("Front-channel logout URI"),
    "frontchannel_logout_session_required": _l("Front-channel logout needs iss and sid"),
    # Users
    "email": _l("Email address"),
    "given_name": _l("Given name"),
    "family_name": _l("Family name"),
    "locale": _l("Locale"),
    "roles": _l("Roles"),
    "is_admin": _l("Admin"),
    "send_invitation": _l("Email an invitation"),
    "password": _l("Password"),
    # The audit log's filters and the API's query parameters
    "user": _l("User"),
    "client": _l("Client"),
    "event": _l("Event"),
    "since": _l("From"),
    "until": _l("Until"),
    "before": _l("Older than event"),
    "limit": _l("Page size"),
    "offset": _l("Offset"),
    "q": _l("Search"),
    # Imports and request bodies
    "file": _l("File"),
    "header": _l("Header line"),
    "row": _l("Row"),
    "password_hash": _l("Password hash"),
    "body": _l("Request body"),
}


def label(field: str) -> str:
    """How a person reads the field's name; an unknown field keeps its own."""
    found = LABELS.get(field)
    return str(found) if found is not None else field
