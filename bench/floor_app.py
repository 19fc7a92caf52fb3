"""The refresh scenario's floor: only its irreducible work, written by hand, as a WSGI app.

No Flask, Authlib, SQLAlchemy or joserfc: the form and Basic auth parsed, the client secret
compared by its SHA-256, the rotation as the provider runs it on the real `tokens` table (its
UPDATE ... RETURNING with the same conditions, the successor's INSERT with the same columns,
in one transaction, prepared statements), an RS256 ID token and an ES256 access token signed
with cryptography, the JSON answer with the same headers, one log line. `python -m
bench.floor` serves it under the shipped gunicorn settings beside Flask's hello-world: what no
amount of tuning the provider's own code can go below. Not a server: it checks nothing else.

FLOOR_DATABASE_URL (psycopg's form) names the database; FLOOR_ID_TOKEN_ALG=ES256 signs the ID
token with the EC key instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

SECRET = "floor-secret"
_SECRET_HASH = hashlib.sha256(SECRET.encode()).hexdigest()
_RSA = rsa.generate_private_key(65537, 2048)
_EC = ec.generate_private_key(ec.SECP256R1())
_ID_TOKEN_ES256 = os.environ.get("FLOOR_ID_TOKEN_ALG") == "ES256"
_local = threading.local()
log = logging.getLogger("idp.request")
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

SPEND = """UPDATE tokens SET refresh_revoked_at = %(at)s, refresh_rotated_at = %(at)s
WHERE refresh_token_hash = %(hash)s AND client_id IS NOT DISTINCT FROM %(client)s
AND refresh_revoked_at IS NULL AND (refresh_expires_at IS NULL OR refresh_expires_at > %(at)s)
AND EXISTS (SELECT 1 FROM users WHERE users.id = tokens.user_id AND users.disabled_at IS NULL)
RETURNING id, user_id, family, code_id, sid, claims, scope, authentication,
(SELECT subject FROM users WHERE users.id = tokens.user_id)"""
INSERT = """INSERT INTO tokens (client_id, user_id, family, code_id, parent_id, sid, claims, jti,
authentication, access_token_hash, refresh_token_hash, token_type, scope, issued_at, expires_in,
refresh_expires_at) VALUES (%(client)s, %(user)s, %(family)s, %(code)s, %(parent)s, %(sid)s,
%(claims)s, %(jti)s, %(authn)s, %(access)s, %(refresh)s, 'Bearer', %(scope)s, %(at)s, 300,
%(refresh_expires)s)"""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(header: dict[str, str], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing}.{_b64(sign(signing.encode()))}"


def _rs256(data: bytes) -> bytes:
    return _RSA.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _es256(data: bytes) -> bytes:
    r, s = decode_dss_signature(_EC.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _connection() -> psycopg.Connection[Any]:
    found = getattr(_local, "connection", None)
    if found is None:
        found = _local.connection = psycopg.connect(os.environ["FLOOR_DATABASE_URL"])
        found.prepare_threshold = 0
    return found


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """POST /token with grant_type=refresh_token, client_secret_basic; nothing else."""
    started = time.perf_counter()
    size = int(environ.get("CONTENT_LENGTH") or 0)
    form = dict(parse_qsl(environ["wsgi.input"].read(size).decode()))
    basic = base64.b64decode(environ.get("HTTP_AUTHORIZATION", "")[6:]).decode()
    client_id, _, secret = basic.partition(":")
    digest = hashlib.sha256(secret.encode()).hexdigest()
    if form.get("grant_type") != "refresh_token" or not hmac.compare_digest(digest, _SECRET_HASH):
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [b'{"error": "invalid_request"}']
    at = datetime.now(UTC).replace(tzinfo=None)
    refresh, access_jti = secrets.token_urlsafe(36), secrets.token_hex(16)
    connection = _connection()
    with connection.transaction():
        spent = connection.execute(
            SPEND,
            {
                "at": at,
                "hash": hashlib.sha256(form["refresh_token"].encode()).hexdigest(),
                "client": client_id,
            },
        ).fetchone()
        if spent is None:
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [b'{"error": "invalid_grant"}']
        token_id, user_id, family, code_id, sid, claims, scope, authn, subject = spent
        connection.execute(
            INSERT,
            {
                "client": client_id,
                "user": user_id,
                "family": family,
                "code": code_id,
                "parent": token_id,
                "sid": sid,
                "claims": json.dumps(claims),
                "jti": access_jti,
                "authn": json.dumps(authn),
                "access": hashlib.sha256(access_jti.encode()).hexdigest(),
                "refresh": hashlib.sha256(refresh.encode()).hexdigest(),
                "scope": scope,
                "at": at,
                "refresh_expires": at + timedelta(days=30),
            },
        )
    now = int(time.time())
    issuer = "http://127.0.0.1"
    access = _signed(
        {"alg": "ES256", "kid": "ec", "typ": "at+jwt"},
        {
            "iss": issuer,
            "sub": subject,
            "aud": client_id,
            "client_id": client_id,
            "iat": now,
            "exp": now + 300,
            "jti": access_jti,
            "scope": scope,
            **(authn or {}),
        },
        _es256,
    )
    at_hash = _b64(hashlib.sha256(access.encode()).digest()[:16])
    id_claims = {
        "iss": issuer,
        "sub": subject,
        "aud": client_id,
        "azp": client_id,
        "iat": now,
        "exp": now + 300,
        "sid": sid,
        "at_hash": at_hash,
        **(authn or {}),
    }
    if _ID_TOKEN_ES256:
        id_token = _signed({"alg": "ES256", "kid": "ec", "typ": "JWT"}, id_claims, _es256)
    else:
        id_token = _signed({"alg": "RS256", "kid": "rsa", "typ": "JWT"}, id_claims, _rs256)
    body = json.dumps(
        {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_token": refresh,
            "scope": scope,
            "id_token": id_token,
        }
    ).encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Pragma", "no-cache"),
        ],
    )
    log.info("POST /token 200 %.1fms", (time.perf_counter() - started) * 1000)
    return [body]
