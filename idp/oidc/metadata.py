"""The discovery document (OIDC Discovery 1.0 section 3), accurate to what we implement."""

from __future__ import annotations

from typing import Any

from idp.authn.factors import ACR_VALUES_SUPPORTED
from idp.config import Settings
from idp.oidc.claims import CLAIMS_SUPPORTED, SCOPES_SUPPORTED
from idp.oidc.keys import KeyStore
from idp.translations import LANGUAGES

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


def discovery_document(settings: Settings, keys: KeyStore) -> dict[str, Any]:
    """Every field describes behaviour the provider really has."""
    base = settings.issuer
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/jwks.json",
        "revocation_endpoint": f"{base}/revoke",
        "introspection_endpoint": f"{base}/introspect",
        "end_session_endpoint": f"{base}/logout",
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": keys.supported_algs(),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS[:2],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "acr_values_supported": list(ACR_VALUES_SUPPORTED),
        "prompt_values_supported": ["none", "login", "consent"],
        "display_values_supported": ["page", "popup", "touch"],
        # The languages of our pages and mail (idp/translations); claims are stored as given,
        # in one language, so claims_locales never changes what userinfo returns.
        "ui_locales_supported": list(LANGUAGES),
        "claims_locales_supported": ["en"],
        "authorization_response_iss_parameter_supported": True,
        # Front-Channel Logout 1.0 section 3; Back-Channel Logout 1.0 section 2.1.
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "service_documentation": f"{base}/help",
    }
