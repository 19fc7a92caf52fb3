"""How secrets we must read back (TOTP keys, codes waiting to be shown) are stored: sealed.

Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the app secret and a purpose, so a
value sealed for one purpose never unseals as another, and a database or session-table dump
alone reveals nothing.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from idp.errors import IdpError


class Unsealable(IdpError):
    """Not sealed with this app secret for this purpose, or altered since."""

    code = "unsealable"


def _fernet(app_secret: str, purpose: str) -> Fernet:
    # "idp-totp-seal:" is the derivation TOTP secrets have always been stored under.
    digest = hashlib.sha256(f"idp-{purpose}-seal:{app_secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(value: str, *, app_secret: str, purpose: str) -> str:
    """Encrypt and authenticate `value` for storage."""
    return _fernet(app_secret, purpose).encrypt(value.encode()).decode()


def unseal(sealed: str, *, app_secret: str, purpose: str) -> str:
    """Decrypt a sealed value, or raise Unsealable."""
    try:
        return _fernet(app_secret, purpose).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise Unsealable() from exc
