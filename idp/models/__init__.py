"""Persistence only: one module per noun."""

from idp.models.audit_event import AuditEvent
from idp.models.authorization_code import AuthorizationCode
from idp.models.cache_version import CacheVersion
from idp.models.client import Client
from idp.models.client_logo import ClientLogo
from idp.models.consent import Consent
from idp.models.email_code import EmailCode
from idp.models.invitation import Invitation
from idp.models.known_browser import KnownBrowser
from idp.models.logout_delivery import LogoutDelivery
from idp.models.mail_message import MailMessage
from idp.models.password_reset import PasswordReset
from idp.models.password_reset_request import PasswordResetRequest
from idp.models.recovery_code import RecoveryCode
from idp.models.revoked_access_token import RevokedAccessToken
from idp.models.session import SessionRecord
from idp.models.session_client import SessionClient
from idp.models.sign_in_failure import SignInFailure
from idp.models.token import Token
from idp.models.totp_credential import TotpCredential
from idp.models.trusted_device import TrustedDevice
from idp.models.user import User
from idp.models.webauthn_credential import WebAuthnCredential

__all__ = [
    "AuditEvent",
    "AuthorizationCode",
    "CacheVersion",
    "Client",
    "ClientLogo",
    "Consent",
    "EmailCode",
    "Invitation",
    "KnownBrowser",
    "LogoutDelivery",
    "MailMessage",
    "PasswordReset",
    "PasswordResetRequest",
    "RecoveryCode",
    "RevokedAccessToken",
    "SessionClient",
    "SessionRecord",
    "SignInFailure",
    "Token",
    "TotpCredential",
    "TrustedDevice",
    "User",
    "WebAuthnCredential",
]
