"""Signing keys on disk, published as a JWKS (keys/README.md describes the folder).

``<kid>.json`` holds only the private JWK; ``state.json`` holds which key is active per alg and
when keys were created or retired; ``.lock`` serialises writers across processes. Readers never
write and files are replaced atomically, so workers can share the folder. Key files never change
(the kid is their thumbprint), so loaded keys are cached while ``state.json`` is unchanged.

A key is *staged* (published, not signing) and later *activated*: relying parties cache the
JWKS for up to ``JWKS_MAX_AGE`` seconds, so a key must be published that long before it signs.
A key file a worker cannot read is logged and skipped; the worker keeps signing with the keys
it has (never a 500 because an operator's file is unreadable).
"""

from __future__ import annotations

import builtins
import fcntl
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeyParameters, KeySet, RSAKey, generate_key, import_key
from joserfc.jws import JWSRegistry

from idp.errors import IdpError
from idp.oidc.key_files import (
    ForeignWriterError,
    Owner,
    open_lock,
    owner_for_new_files,
    write_private_json,
)
from idp.oidc.key_state import activated_at, naive_utc, signing_kids, stamp

# RFC 7518 3.3 requires RSA keys of at least 2048 bits; 2048 keeps generation (start-up,
# tests) fast and is what most OpenID providers publish.
RSA_KEY_SIZE = 2048
# Order matters: RS256 is the OIDC default (OIDC Core 15.1), so it is published first.
ALGORITHMS = ("RS256", "ES256")
# RFC 7517 4 / RFC 7518 6: the only members ever published.
PUBLIC_MEMBERS = ("kty", "kid", "alg", "use", "n", "e", "crv", "x", "y")
STATE_FILE = "state.json"
# Cache-Control max-age of /jwks.json: relying parties may not see a new key for this long.
JWKS_MAX_AGE = 300
_KID = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url SHA-256 thumbprint (RFC 7638 3)

SigningKey = RSAKey | ECKey
log = logging.getLogger(__name__)
# Keys parsed in this process, by their file's bytes: importing an RSA key checks it (~40 ms,
# kept: it refuses a corrupted key whose signatures could leak it), and every app a process
# builds (tests, the CLI beside a worker) reads the same files.
_PARSED: dict[bytes, SigningKey] = {}


class KeyStoreError(IdpError):
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


class KeyNotYetPublishedError(KeyStoreError):
    """Relying parties may still hold a cached JWKS without this key."""

    code = "key_not_yet_published"


@dataclass(frozen=True)
class KeyInfo:
    """One published key, as `idp keys list` shows it."""

    kid: str
    alg: str
    created_at: datetime  # naive UTC, like idp.clock.now()
    active: bool
    staged: bool  # published, has never signed


@dataclass(frozen=True)
class _Snapshot:
    version: str
    state: dict[str, Any]
    keys: dict[str, SigningKey]  # loadable non-retired keys, signing keys first
    signing: dict[str, str]  # alg -> kid that signs
    complete: bool  # False: a file could not be loaded, so try again on the next read
    # Verifying our own JWTs (every JWT access token presented): built once per key change.
    keyset: KeySet
    registry: JWSRegistry | None  # the algorithms that sign; None: joserfc's default


class KeyStore:
    """The signing keys in one directory."""

    def __init__(self, directory: Path, *, now: Callable[[], datetime] | None = None) -> None:
        # ``now`` may be idp.clock.now (naive UTC); this module stays free of Flask.
        self.directory = Path(directory)
        self._state_path = str(self.directory / STATE_FILE)  # stat per read: no Path built
        self._now = now or (lambda: datetime.now(UTC))
        self._cache: _Snapshot | None = None
        self._stat: tuple[int, int, int] | None = None  # state.json's when _cache was read
        self._reported: set[str] = set()

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
        """Make a new key active for ``alg`` (all algorithms when None); old keys stay published.

        Relying parties that cached the JWKS cannot verify its tokens for up to JWKS_MAX_AGE:
        for planned rotations use ``stage`` then ``activate``.
        """
        algs = ALGORITHMS if alg is None else (_check_alg(alg),)
        with self._locked() as state:
            return [self._add(state, a, activate=True) for a in algs]

    def stage(self, alg: str | None = None) -> list[str]:
        """Publish a new key for ``alg`` (all algorithms when None) that does not sign yet."""
        algs = ALGORITHMS if alg is None else (_check_alg(alg),)
        with self._locked() as state:
            return [self._add(state, a, activate=False) for a in algs]

    def activate(self, kid: str, *, force: bool = False) -> None:
        """Sign with a published key from now on; refused before it is JWKS_MAX_AGE old."""
        with self._locked() as state:
            meta = state["keys"].get(kid)
            if meta is None or meta["retired_at"] is not None:
                raise UnknownKeyError(f"no published key with kid {kid!r}")
            if state["active"].get(meta["alg"]) == kid:
                return
            ready = naive_utc(meta["created_at"]) + timedelta(seconds=JWKS_MAX_AGE)
            if naive_utc(stamp(self._now())) < ready and not force:
                raise KeyNotYetPublishedError(
                    f"key {kid} was published at {meta['created_at']} and relying parties may "
                    f"cache the JWKS for {JWKS_MAX_AGE} s: activate it after {ready:%H:%M:%S} UTC"
                )
            self._load_key(kid, meta["alg"])  # never make a key active that cannot be read
            state["active"][meta["alg"]] = kid
            meta["activated_at"] = stamp(self._now())

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
            meta["retired_at"] = stamp(self._now())
        (self.directory / f"{kid}.json").unlink(missing_ok=True)  # unpublished first

    def signing_key(self, alg: str) -> SigningKey:
        """The active private key for ``alg``, carrying its kid."""
        snapshot = self._snapshot()
        key = snapshot.keys.get(snapshot.signing.get(alg, ""))
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

    def verification(self) -> tuple[KeySet, JWSRegistry | None]:
        """What `joserfc.jwt.decode` needs to verify our own JWTs: every non-retired key (shared:
        never change it) and a registry of the algorithms that sign, from one snapshot.

        As `jwt.decode(value, private_keyset(), algorithms=supported_algs())`, without building
        both again for each token.
        """
        snapshot = self._snapshot()
        return snapshot.keyset, snapshot.registry

    def version(self) -> str:
        """A short tag that changes whenever the key set changes (for caching JWKS/discovery)."""
        return self._snapshot().version

    def supported_algs(self) -> builtins.list[str]:
        """Algorithms that have an active signing key."""
        return builtins.list(self._snapshot().signing)

    def list(self) -> builtins.list[KeyInfo]:
        """Non-retired keys in creation order."""
        state = self._snapshot().state
        active = set(state["active"].values())
        return [
            KeyInfo(
                kid,
                meta["alg"],
                naive_utc(meta["created_at"]),
                active=kid in active,
                staged=kid not in active and activated_at(meta) is None,
            )
            for kid, meta in state["keys"].items()
            if meta["retired_at"] is None
        ]

    def _snapshot(self) -> _Snapshot:
        # Every discovery and JWKS request asks: a stat is cheaper than reading and hashing.
        # Writers replace state.json atomically (a new inode), so an unchanged stat is no change.
        try:
            st = os.stat(self._state_path)
            stat = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            stat = None
        if stat is not None and self._stat == stat and self._cache is not None:
            return self._cache  # _stat is set only for a complete snapshot
        self._stat = None  # set again only once the file was read and understood
        return self._read_snapshot(stat)

    def _read_snapshot(self, stat: tuple[int, int, int] | None) -> _Snapshot:
        try:
            raw = (self.directory / STATE_FILE).read_bytes()
        except FileNotFoundError:
            raw = b""
        except OSError as exc:
            if self._cache is None:
                raise KeyStoreError(f"cannot read {STATE_FILE}: {exc}") from exc
            self._report(f"cannot read {STATE_FILE}: {exc}")
            return self._cache  # keep serving with the keys already loaded
        version = hashlib.sha256(raw).hexdigest()[:16]
        if self._cache is not None and self._cache.version == version and self._cache.complete:
            self._stat = stat
            return self._cache
        try:
            state = _parse_state(raw)
        except KeyStoreError as exc:
            if self._cache is None:
                raise
            self._report(str(exc))
            return self._cache
        published = {kid: m for kid, m in state["keys"].items() if m["retired_at"] is None}
        loaded = self._cache.keys if self._cache else {}
        keys: dict[str, SigningKey] = {}
        complete = True
        for kid, meta in published.items():
            try:
                # Key files never change: a key loaded before is still that key.
                key = loaded.get(kid) or self._load_key(kid, meta["alg"])
            except Exception as exc:  # unreadable, unparsable or tampered: any of them
                self._report(f"cannot load key {kid}: {exc}")
                complete = False
                continue
            if key is not None:
                keys[kid] = key
        signing, fallbacks = signing_kids(state, keys, ALGORITHMS)
        for message in fallbacks:
            self._report(message)
        first = builtins.list(signing.values())
        ordered = first + [kid for kid in reversed(keys) if kid not in first]
        keyed = {k: keys[k] for k in ordered}
        # supported_algs() empty: joserfc's default registry, as `algorithms=[]` gives.
        registry = JWSRegistry(algorithms=builtins.list(signing)) if signing else None
        self._cache = _Snapshot(
            version,
            state,
            keyed,
            signing,
            complete,
            keyset=KeySet(builtins.list(keyed.values())),
            registry=registry,
        )
        self._stat = stat if complete else None
        return self._cache

    def _report(self, message: str) -> None:
        """Log a problem with the keys directory once per process, not once per request."""
        if message not in self._reported:
            self._reported.add(message)
            log.error("keys directory %s: %s", self.directory, message)

    def _load_key(self, kid: str, alg: str) -> SigningKey | None:
        if not _KID.match(kid):
            raise KeyStoreError(f"{STATE_FILE} lists an invalid kid {kid!r}")
        try:
            raw = (self.directory / f"{kid}.json").read_bytes()
        except FileNotFoundError:
            return None  # retired by another process between reading state and this file
        key = _PARSED.get(raw) or import_key(json.loads(raw))
        if not isinstance(key, RSAKey | ECKey) or key.kid != kid or key.thumbprint() != kid:
            raise KeyStoreError(f"{kid}.json does not hold the key with thumbprint {kid}")
        if key.alg != alg or not key.is_private:
            raise KeyStoreError(f"{kid}.json is not a private {alg} key")
        _PARSED[raw] = key
        return key

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold the directory lock; yield the state and save it if the block changed it."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = open_lock(self.directory, self._new_file_owner())
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
        at = stamp(self._now())
        state["keys"][kid] = {
            "alg": alg,
            "created_at": at,
            "activated_at": at if activate else None,
            "retired_at": None,
        }
        if activate:
            state["active"][alg] = kid
        return kid

    def _write(self, name: str, data: dict[str, Any]) -> None:
        """Write JSON atomically, 0600 and owned by the directory's owner (see key_files)."""
        write_private_json(self.directory, name, data, self._new_file_owner())

    def _new_file_owner(self) -> Owner | None:
        try:
            return owner_for_new_files(self.directory)
        except ForeignWriterError as exc:
            raise KeyStoreError(str(exc)) from exc


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


def _public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {name: jwk[name] for name in PUBLIC_MEMBERS if name in jwk}
