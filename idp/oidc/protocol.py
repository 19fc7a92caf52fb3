"""The few protocol names the web layer needs, so only idp.oidc imports Authlib."""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import scope_to_list

__all__ = ["OAuth2Error", "add_params_to_uri", "scope_to_list"]
