"""How high-entropy secrets (tokens, codes, cookies, client secrets) are stored: SHA-256."""

from __future__ import annotations

import hashlib
import hmac


def sha256_hex(value: str) -> str:
    """Hex SHA-256 of a random secret; a slow hash would add nothing for 256-bit values."""
    return hashlib.sha256(value.encode()).hexdigest()


def matches(value: str, stored_hash: str | None) -> bool:
    """Constant-time check of a presented secret against its stored hash."""
    if not stored_hash:
        return False
    return hmac.compare_digest(sha256_hex(value), stored_hash)


def keyed_hash(value: str, key: str) -> str:
    """HMAC-SHA256 with the app's secret: short codes stay unguessable from a database dump."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def keyed_matches(value: str, stored_hash: str | None, key: str) -> bool:
    """Constant-time check of a short code against its keyed hash."""
    if not stored_hash:
        return False
    return hmac.compare_digest(keyed_hash(value, key), stored_hash)
