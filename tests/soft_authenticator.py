"""A software WebAuthn authenticator (and browser client) for HTTP tests: real keys, no mocks.

`SoftAuthenticator` plays both halves of what a browser with a security key does: the
client (clientDataJSON with type, challenge, origin, crossOrigin) and the authenticator
(authenticator data, an EC P-256 key in COSE form, attestation "none", ECDSA/SHA-256
signatures over authData || SHA-256(clientDataJSON)). `create()` and `get()` take the options
JSON the provider sends and answer the JSON `credentialJSON()` in static/webauthn.js posts
(RegistrationResponseJSON / AuthenticationResponseJSON), which py_webauthn verifies for real.

Per-call keyword arguments (`origin`, `cross_origin`, `rp_id`, `challenge`, `type_`,
`user_verified`, `user_present`) make answers a real browser would never send, for tests of
refusals. `register_key`, `assert_key` and `passkey_sign_in` drive the provider's JSON
endpoints with a Flask test client; `give_key` stores a credential directly, for tests about
later sign-ins that should not depend on the enrollment rules.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient

from tests.support import csrf_of

__all__ = [
    "COSE_ALG_ES256",
    "NoCredential",
    "SoftAuthenticator",
    "SoftCredential",
    "assert_key",
    "b64url",
    "from_b64url",
    "give_key",
    "passkey_sign_in",
    "register_key",
]

COSE_ALG_ES256 = -7

# Authenticator data flags (WebAuthn Level 3, 6.1).
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80


def b64url(data: bytes) -> str:
    """Base64url without padding, as WebAuthn JSON carries bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(value: str) -> bytes:
    """The bytes of an unpadded base64url string."""
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class NoCredential(Exception):
    """What the browser's NotAllowedError / InvalidStateError mean here.

    Raised when no held credential matches allowCredentials (or none is discoverable), or
    when create() is asked for a key this authenticator already holds (excludeCredentials).
    """


@dataclass
class SoftCredential:
    """One credential: the private key never leaves the authenticator (except in tests)."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0
    discoverable: bool = True
    user_name: str = ""

    @property
    def id(self) -> str:
        """The credential ID as the server stores it (base64url)."""
        return b64url(self.credential_id)

    def cose_public_key(self) -> bytes:
        """The public key as a COSE_Key: EC2, ES256, P-256 (RFC 9053 7.1.1)."""
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: COSE_ALG_ES256,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def spki_public_key(self) -> bytes:
        """The public key as SubjectPublicKeyInfo DER (the JSON's response.publicKey)."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass
class SoftAuthenticator:
    """A security key (or, with backup_eligible, a synced passkey) behind a browser at `origin`.

    user_verified: the key checks a PIN or biometric (UV flag) whenever asked.
    backup_eligible / backed_up: BE / BS flags; backed_up defaults to backup_eligible.
    counter_step: how much the signature counter grows per assertion (0: always 0, as synced
    passkeys do).
    """

    origin: str = "http://localhost"
    rp_id: str = "localhost"
    user_verified: bool = True
    backup_eligible: bool = False
    backed_up: bool | None = None
    attachment: str = "cross-platform"
    transports: tuple[str, ...] = ("usb",)
    aaguid: bytes = bytes(16)
    counter_step: int = 1
    credentials: list[SoftCredential] = field(default_factory=list)

    # -- the two ceremonies ---------------------------------------------------------------
    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        cross_origin: bool = False,
        rp_id: str | None = None,
        challenge: str | None = None,
        type_: str = "webauthn.create",
        user_verified: bool | None = None,
        user_present: bool = True,
        discoverable: bool | None = None,
    ) -> dict[str, Any]:
        """navigator.credentials.create(): a new credential, as RegistrationResponseJSON.

        `options` is the PublicKeyCredentialCreationOptionsJSON the provider returned.
        """
        params = options.get("pubKeyCredParams") or [{"type": "public-key", "alg": -7}]
        if not any(p.get("alg") == COSE_ALG_ES256 for p in params):
            raise NoCredential("ES256 is not among pubKeyCredParams")
        held = {c.credential_id for c in self.credentials}
        for excluded in options.get("excludeCredentials") or []:
            if from_b64url(excluded["id"]) in held:
                raise NoCredential("this authenticator already holds an excluded credential")
        selection = options.get("authenticatorSelection") or {}
        if discoverable is None:
            discoverable = selection.get("residentKey", "discouraged") != "discouraged" or bool(
                selection.get("requireResidentKey")
            )
        user = options.get("user") or {}
        credential = SoftCredential(
            credential_id=secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=self.rp_id,
            user_handle=from_b64url(user.get("id", "")),
            discoverable=discoverable,
            user_name=user.get("name", ""),
        )
        client_data = self._client_data(
            type_, challenge or options["challenge"], origin, cross_origin
        )
        attested = (
            self.aaguid
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + credential.cose_public_key()
        )
        auth_data = self._auth_data(
            rp_id or self.rp_id,
            self._flags(user_verified, user_present) | AT,
            credential.sign_count,
            attested,
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.credentials.append(credential)  # after the last step that may raise
        return {
            "id": credential.id,
            "rawId": credential.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "authenticatorData": b64url(auth_data),
                "publicKey": b64url(credential.spki_public_key()),
                "publicKeyAlgorithm": COSE_ALG_ES256,
                "transports": list(self.transports),
            },
            "clientExtensionResults": self._extension_results(options, discoverable),
            "authenticatorAttachment": self.attachment,
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        credential: SoftCredential | None = None,
        origin: str | None = None,
        cross_origin: bool = False,
        rp_id: str | None = None,
        challenge: str | None = None,
        type_: str = "webauthn.get",
        user_verified: bool | None = None,
        user_present: bool = True,
    ) -> dict[str, Any]:
        """navigator.credentials.get(): an assertion, as AuthenticationResponseJSON.

        The credential is the first held one named in allowCredentials, or without
        allowCredentials the first discoverable one for the RP ID; `credential=` forces one.
        """
        chosen = credential or self._choose(options, self.rp_id)
        chosen.sign_count += self.counter_step
        client_data = self._client_data(
            type_, challenge or options["challenge"], origin, cross_origin
        )
        auth_data = self._auth_data(
            rp_id or self.rp_id, self._flags(user_verified, user_present), chosen.sign_count
        )
        signature = chosen.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if chosen.discoverable:
            response["userHandle"] = b64url(chosen.user_handle)
        return {
            "id": chosen.id,
            "rawId": chosen.id,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": self.attachment,
        }

    def new_credential(self, user_handle: bytes, *, discoverable: bool = True) -> SoftCredential:
        """A credential created outside any ceremony (see `give_key`), held from now on."""
        credential = SoftCredential(
            credential_id=secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=self.rp_id,
            user_handle=user_handle,
            discoverable=discoverable,
        )
        self.credentials.append(credential)
        return credential

    # -- parts ----------------------------------------------------------------------------
    def credential(self, credential_id: str | None = None) -> SoftCredential:
        """A held credential by its base64url ID, or the only one."""
        if credential_id is None:
            [only] = self.credentials
            return only
        return next(c for c in self.credentials if c.id == credential_id)

    def _choose(self, options: dict[str, Any], rp_id: str) -> SoftCredential:
        allowed = [from_b64url(c["id"]) for c in options.get("allowCredentials") or []]
        for candidate in self.credentials:
            if candidate.rp_id != rp_id:
                continue
            if candidate.credential_id in allowed or (not allowed and candidate.discoverable):
                return candidate
        raise NoCredential("no held credential matches the request")

    def _flags(self, user_verified: bool | None, user_present: bool) -> int:
        flags = UP if user_present else 0
        if self.user_verified if user_verified is None else user_verified:
            flags |= UV
        if self.backup_eligible:
            flags |= BE
            if self.backup_eligible if self.backed_up is None else self.backed_up:
                flags |= BS
        return flags

    @staticmethod
    def _auth_data(rp_id: str, flags: int, sign_count: int, attested: bytes = b"") -> bytes:
        rp_id_hash = hashlib.sha256(rp_id.encode()).digest()
        return rp_id_hash + bytes([flags]) + struct.pack(">I", sign_count) + attested

    def _client_data(
        self, type_: str, challenge: str, origin: str | None, cross_origin: bool
    ) -> bytes:
        data: dict[str, Any] = {
            "type": type_,
            "challenge": challenge,
            "origin": origin or self.origin,
            "crossOrigin": cross_origin,
        }
        if cross_origin:
            data["topOrigin"] = "https://framing.example"
        return json.dumps(data, separators=(",", ":")).encode()

    @staticmethod
    def _extension_results(options: dict[str, Any], discoverable: bool) -> dict[str, Any]:
        if (options.get("extensions") or {}).get("credProps"):
            return {"credProps": {"rk": discoverable}}
        return {}


# -- driving the provider's JSON endpoints ------------------------------------------------
def _csrf(client: FlaskClient, page: str) -> str:
    """The CSRF token of this browser's session, read from a page's <meta name="csrf-token">."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code, response.location)
    return csrf_of(response)


def _query(rid: str | None) -> str:
    return f"?rid={rid}" if rid else ""


def _ceremony(
    client: FlaskClient,
    options_url: str,
    finish_url: str,
    answer: Any,
    body: dict[str, Any],
    *,
    csrf: str,
    status: int | None,
) -> dict[str, Any]:
    headers = {"X-CSRFToken": csrf}
    options = client.post(options_url, headers=headers)
    assert options.status_code == 200, (options_url, options.status_code, options.get_json())
    assert options.headers.get("Cache-Control") == "no-store"
    response = client.post(
        finish_url, headers=headers, json={"credential": answer(options.get_json()), **body}
    )
    if status is not None:
        assert response.status_code == status, (finish_url, response.status_code, response.text)
    return response.get_json()


def confirm_first_key(client: FlaskClient, rid: str | None) -> None:
    """Type the code the enrollment page emails before a user's first key (DESIGN.md)."""
    from tests.support import code_in_mail, submit

    url = f"/signin/enroll/webauthn{_query(rid)}"
    page = client.get(url)
    assert "We sent a 6-digit code" in page.text, page.text
    response = submit(client, url, {"code": code_in_mail(client.application)})
    assert response.status_code == 302, response.text


def assert_key_at(
    client: FlaskClient,
    options_url: str,
    finish_url: str,
    authenticator: SoftAuthenticator,
    *,
    csrf: str,
    status: int | None = 200,
) -> dict[str, Any]:
    """An assertion at any pair of endpoints (e.g. the password-reset page's)."""
    return _ceremony(
        client,
        options_url,
        finish_url,
        lambda options: authenticator.get(options),
        {},
        csrf=csrf,
        status=status,
    )


def register_key(
    client: FlaskClient,
    rid: str | None,
    authenticator: SoftAuthenticator,
    *,
    name: str = "Security key",
    remember: bool = False,
    csrf: str | None = None,
    status: int | None = 200,
    **create: Any,
) -> dict[str, Any]:
    """Register a new key at /signin/webauthn/register; the JSON answer ({"redirect"} or {"error"}).

    `rid` None adds a key from the account pages (after a recent step-up). `create` passes
    through to `authenticator.create` (origin=..., cross_origin=True, ...). `status` is
    asserted unless None. The CSRF token comes from the enrollment page unless given.
    """
    token = csrf or _csrf(client, f"/signin/enroll/webauthn{_query(rid)}")
    return _ceremony(
        client,
        f"/signin/webauthn/register/options{_query(rid)}",
        f"/signin/webauthn/register{_query(rid)}",
        lambda options: authenticator.create(options, **create),
        {"name": name, "remember": remember},
        csrf=token,
        status=status,
    )


def assert_key(
    client: FlaskClient,
    rid: str | None,
    authenticator: SoftAuthenticator,
    *,
    remember: bool = False,
    csrf: str | None = None,
    status: int | None = 200,
    **get: Any,
) -> dict[str, Any]:
    """Use a key as second factor at /signin/webauthn/authenticate; the JSON answer.

    `rid` None is a step-up on the account pages (give `csrf` from the page you are on).
    `get` passes through to `authenticator.get`. The CSRF token comes from
    /signin/verify?rid=... unless given.
    """
    token = csrf or _csrf(client, f"/signin/verify{_query(rid)}")
    return _ceremony(
        client,
        f"/signin/webauthn/authenticate/options{_query(rid)}",
        f"/signin/webauthn/authenticate{_query(rid)}",
        lambda options: authenticator.get(options, **get),
        {"remember": remember},
        csrf=token,
        status=status,
    )


def give_key(
    app: Flask, user_id: int, authenticator: SoftAuthenticator, *, name: str = "Security key"
) -> SoftCredential:
    """Store a new credential for a user directly, as a past registration would have.

    For tests about later sign-ins that should not depend on the enrollment rules.
    """
    from idp.clock import now
    from idp.extensions import db
    from idp.models.user import User
    from idp.models.webauthn_credential import WebAuthnCredential

    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        credential = authenticator.new_credential(from_b64url(user.webauthn_handle))
        db.session.add(
            WebAuthnCredential(
                user_id=user_id,
                name=name,
                credential_id=credential.id,
                public_key=credential.cose_public_key(),
                sign_count=credential.sign_count,
                transports=list(authenticator.transports),
                aaguid="00000000-0000-0000-0000-000000000000",
                backup_eligible=authenticator.backup_eligible,
                backed_up=authenticator.backup_eligible
                if authenticator.backed_up is None
                else authenticator.backed_up,
                user_verified=authenticator.user_verified,
                created_at=now(),
            )
        )
        db.session.commit()
    return credential


def passkey_sign_in(
    client: FlaskClient,
    rid: str | None,
    authenticator: SoftAuthenticator,
    *,
    csrf: str | None = None,
    status: int | None = 200,
    **get: Any,
) -> dict[str, Any]:
    """Sign in with a discoverable credential at /signin/passkey (no password); the JSON answer.

    The CSRF token comes from the sign-in page /signin?rid=... unless given.
    """
    token = csrf or _csrf(client, f"/signin{_query(rid)}")
    return _ceremony(
        client,
        f"/signin/passkey/options{_query(rid)}",
        f"/signin/passkey{_query(rid)}",
        lambda options: authenticator.get(options, **get),
        {},
        csrf=token,
        status=status,
    )
