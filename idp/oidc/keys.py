"""Signing keys on disk, published as a JWKS (keys/README.md describes the folder).

``<kid>.json`` holds only the private JWK; ``state.json`` holds which key is active per alg and
when keys were created or retired; ``.lock`` serialises writers across processes. Readers never
write and files are replaced atomically, so workers can share the folder. Key files never change
(the kid is their thumbprint), so loaded keys are cached while ``state.json`` is unchanged.
"""

from __future__ import annotations

import builtins
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeyParameters, KeySet, RSAKey, generate_key, import_key

# RFC 7518 3.3 requires RSA keys of at least 2048 bits; 2048 keeps generation (start-up,
# tests) fast and is what most OpenID providers publish.
RSA_KEY_SIZE = 2048
# Order matters: RS256 is the OIDC default (OIDC Core 15.1), so it is published first.
ALGORITHMS = ("RS256", "ES256")
# RFC 7517 4 / RFC 7518 6: the only members ever published.
PUBLIC_MEMBERS = ("kty", "kid", "alg", "use", "n", "e", "crv", "x", "y")
STATE_FILE = "state.json"
_KID = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url SHA-256 thumbprint (RFC 7638 3)

SigningKey = RSAKey | ECKey


class KeyStoreError(Exception):
    """The key directory cannot do what was asked."""

    code = "key_store_error"


class UnknownKeyError(KeyStoreError, KeyError):
    """No published key has this kid."""

    code = "unknown_key"

    def __str__(self) -> str:
        return str(self.args[0])  # KeyError would quote the message


class ActiveKeyError(KeyStoreError):
    """The key is the active signing key of its algorithm."""

    code = "active_key"


class MissingSigningKeyError(KeyStoreError):
    """No active signing key for an algorithm."""

    code = "no_signing_key"


@dataclass(frozen=True)
class KeyInfo:
    """One published key, as `idp keys list` shows it."""

    kid: str
    alg: str
    created_at: datetime  # naive UTC, like idp.clock.now()
    active: bool


@dataclass(frozen=True)
class _Snapshot:
    version: str
    state: dict[str, Any]
    keys: dict[str, SigningKey]  # non-retired keys, active first


class KeyStore:
    """The signing keys in one directory."""

    def __init__(self, directory: Path, *, now: Callable[[], datetime] | None = None) -> None:
        # ``now`` may be idp.clock.now (naive UTC); this module stays free of Flask.
        self.directory = Path(directory)
        self._now = now or (lambda: datetime.now(UTC))
        self._cache: _Snapshot | None = None

    def ensure(self) -> list[str]:
        """Generate an active key for every algorithm that has none; return the new kids."""
        with self._locked() as state:
            return [
                self._add(state, alg, activate=True)
                for alg in ALGORITHMS
                if not self._active(state, alg)
            ]

    def generate(self, alg: str) -> str:
        """Add a key for ``alg``; it becomes active only if ``alg`` has no active key."""
        _check_alg(alg)
        with self._locked() as state:
            return self._add(state, alg, activate=not self._active(state, alg))

    def rotate(self, alg: str | None = None) -> list[str]:
        """Make a new key active for ``alg`` (all algorithms when None); old keys stay published."""
        algs = ALGORITHMS if alg is None else (_check_alg(alg),)
        with self._locked() as state:
            return [self._add(state, a, activate=True) for a in algs]

    def retire(self, kid: str) -> None:
        """Unpublish a non-active key and delete its private file."""
        with self._locked() as state:
            meta = state["keys"].get(kid)
            if meta is None or meta["retired_at"] is not None:
                raise UnknownKeyError(f"no published key with kid {kid!r}")
            if state["active"].get(meta["alg"]) == kid:
                raise ActiveKeyError(
                    f"key {kid} is the active {meta['alg']} key: run `idp keys rotate` first"
                )
            meta["retired_at"] = _stamp(self._now())
        (self.directory / f"{kid}.json").unlink(missing_ok=True)  # unpublished first

    def signing_key(self, alg: str) -> SigningKey:
        """The active private key for ``alg``, carrying its kid."""
        snapshot = self._snapshot()
        key = snapshot.keys.get(snapshot.state["active"].get(alg, ""))
        if key is None:
            raise MissingSigningKeyError(f"no signing key for {alg}: run `idp keys generate`")
        return key

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS to publish: public members of every non-retired key, active keys first."""
        keys = self._snapshot().keys.values()
        return {"keys": [_public(key.as_dict(private=False)) for key in keys]}

    def private_keyset(self) -> KeySet:
        """All non-retired private keys, e.g. to verify our own id_token_hint."""
        return KeySet(builtins.list(self._snapshot().keys.values()))

    def version(self) -> str:
        """A short tag that changes whenever the key set changes (for caching JWKS/discovery)."""
        return self._snapshot().version

    def supported_algs(self) -> builtins.list[str]:
        """Algorithms that have an active signing key."""
        snapshot = self._snapshot()
        return [alg for alg in ALGORITHMS if snapshot.state["active"].get(alg) in snapshot.keys]

    def list(self) -> builtins.list[KeyInfo]:
        """Non-retired keys in creation order."""
        state = self._snapshot().state
        active = set(state["active"].values())
        return [
            KeyInfo(kid, meta["alg"], _naive_utc(meta["created_at"]), kid in active)
            for kid, meta in state["keys"].items()
            if meta["retired_at"] is None
        ]

    def _snapshot(self) -> _Snapshot:
        try:
            raw = (self.directory / STATE_FILE).read_bytes()
        except FileNotFoundError:
            raw = b""
        version = hashlib.sha256(raw).hexdigest()[:16]
        if self._cache is not None and self._cache.version == version:
            return self._cache
        state = _parse_state(raw)
        active = builtins.list(state["active"].values())
        order = active + [kid for kid in reversed(state["keys"]) if kid not in active]
        published = {kid: m["alg"] for kid, m in state["keys"].items() if m["retired_at"] is None}
        loaded = {kid: self._load_key(kid, published[kid]) for kid in order if kid in published}
        keys = {kid: key for kid, key in loaded.items() if key is not None}
        self._cache = _Snapshot(version, state, keys)
        return self._cache

    def _load_key(self, kid: str, alg: str) -> SigningKey | None:
        if not _KID.match(kid):
            raise KeyStoreError(f"{STATE_FILE} lists an invalid kid {kid!r}")
        try:
            data = json.loads((self.directory / f"{kid}.json").read_text())
        except FileNotFoundError:
            return None  # retired by another process between reading state and this file
        key = import_key(data)
        if not isinstance(key, RSAKey | ECKey) or key.kid != kid or key.thumbprint() != kid:
            raise KeyStoreError(f"{kid}.json does not hold the key with thumbprint {kid}")
        if key.alg != alg or not key.is_private:
            raise KeyStoreError(f"{kid}.json is not a private {alg} key")
        return key

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold the directory lock; yield the state and save it if the block changed it."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            path = self.directory / STATE_FILE
            state = _parse_state(path.read_bytes() if path.exists() else b"")
            before = json.dumps(state)
            yield state
            if json.dumps(state) != before:  # key files are written before the state
                self._write(STATE_FILE, state)
        finally:
            os.close(fd)  # closing releases the lock

    def _active(self, state: dict[str, Any], alg: str) -> bool:
        kid = state["active"].get(alg)
        return kid is not None and (self.directory / f"{kid}.json").exists()

    def _add(self, state: dict[str, Any], alg: str, *, activate: bool) -> str:
        key = _new_key(alg)
        while key.thumbprint().startswith("-"):
            # A kid is a CLI argument too (`idp keys retire KID`): "-..." would read as an option.
            key = _new_key(alg)
        kid = key.thumbprint()
        key.ensure_kid()
        self._write(f"{kid}.json", key.as_dict(private=True))
        state["keys"][kid] = {"alg": alg, "created_at": _stamp(self._now()), "retired_at": None}
        if activate:
            state["active"][alg] = kid
        return kid

    def _write(self, name: str, data: dict[str, Any]) -> None:
        """Write JSON atomically; the file is 0600 from its creation."""
        tmp = self.directory / f".{name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # a restrictive umask must not leave it unreadable to us
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=2)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.directory / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _check_alg(alg: str) -> str:
    if alg not in ALGORITHMS:
        raise KeyStoreError(f"unsupported signing algorithm {alg!r}: use one of {ALGORITHMS}")
    return alg


def _new_key(alg: str) -> SigningKey:
    params: KeyParameters = {"alg": alg, "use": "sig"}
    if alg == "RS256":
        return generate_key("RSA", RSA_KEY_SIZE, parameters=params)
    return generate_key("EC", "P-256", parameters=params)


def _parse_state(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {"active": {}, "keys": {}}
    try:
        return {"active": {}, "keys": {}, **json.loads(raw)}
    except (TypeError, ValueError) as exc:
        raise KeyStoreError(f"{STATE_FILE} is not a valid key state: {exc}") from exc


def _stamp(at: datetime) -> str:
    """ISO 8601 with an explicit UTC offset; a naive ``at`` is taken to be UTC."""
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).isoformat()


def _naive_utc(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)


def _public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {name: jwk[name] for name in PUBLIC_MEMBERS if name in jwk}
