"""KeyStore: signing keys on disk, rotation and the published JWKS (real crypto, no app)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey, generate_key

from idp.oidc import keys as keys_module
from idp.oidc.keys import (
    JWKS_MAX_AGE,
    ActiveKeyError,
    KeyNotYetPublishedError,
    KeyStore,
    KeyStoreError,
    MissingSigningKeyError,
    UnknownKeyError,
)

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated directory that tests copy, so RSA keys are made once per module."""
    directory = tmp_path_factory.mktemp("seed") / "keys"
    KeyStore(directory).ensure()
    return directory


@pytest.fixture
def store(seeded: Path, tmp_path: Path) -> KeyStore:
    directory = tmp_path / "keys"
    directory.mkdir()
    for path in seeded.glob("*.json"):
        target = directory / path.name
        target.write_bytes(path.read_bytes())
        target.chmod(0o600)
    return KeyStore(directory)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def rfc7638_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 3.2: SHA-256 of the required members, sorted, no whitespace; base64url."""
    required = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({m: jwk[m] for m in required}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(store: KeyStore, alg: str) -> str:
    key = store.signing_key(alg)
    header = {"alg": alg, "kid": key.kid}
    return jwt.encode(header, {"sub": "alice", "aud": "rp"}, key)


def verify(store: KeyStore, token: str) -> jwt.Token:
    """Verify the way a relying party does: with the published JWKS only."""
    return jwt.decode(token, KeySet.import_key_set(store.public_jwks()))


def test_ensure_creates_one_active_key_per_alg(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    created = store.ensure()
    assert len(created) == 2
    assert store.supported_algs() == ["RS256", "ES256"]
    assert {(k.alg, k.active) for k in store.list()} == {("RS256", True), ("ES256", True)}
    assert [k.kid for k in store.list()] == created


def test_ensure_is_idempotent(store: KeyStore) -> None:
    before = store.version()
    assert store.ensure() == []
    assert store.version() == before
    assert len(store.list()) == 2


def test_every_file_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    store = KeyStore(directory)
    store.ensure()
    store.rotate("ES256")
    files = sorted(directory.glob("*.json"))
    assert len(files) == 4  # three keys and state.json
    assert all(mode(path) == 0o600 for path in files), {p.name: oct(mode(p)) for p in files}
    assert mode(directory / "state.json") == 0o600
    assert not list(directory.glob("*.tmp"))


def test_files_are_private_despite_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        directory = tmp_path / "keys"
        KeyStore(directory).generate("ES256")
    finally:
        os.umask(old)
    assert {mode(path) for path in directory.glob("*.json")} == {0o600}


def test_key_file_holds_only_the_private_jwk(store: KeyStore) -> None:
    kid = store.signing_key("ES256").kid
    data = json.loads((store.directory / f"{kid}.json").read_text())
    assert set(data) == {"kty", "kid", "alg", "use", "crv", "x", "y", "d"}
    assert (data["alg"], data["use"], data["crv"]) == ("ES256", "sig", "P-256")


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_token_signed_with_signing_key_verifies_against_public_jwks(
    store: KeyStore, alg: str
) -> None:
    token = verify(store, sign(store, alg))
    assert token.header["alg"] == alg
    assert token.claims["sub"] == "alice"


def test_token_verifies_with_private_keyset(store: KeyStore) -> None:
    token = jwt.decode(sign(store, "RS256"), store.private_keyset())
    assert token.claims["aud"] == "rp"


def ours(store: KeyStore, token: str) -> jwt.Token:
    """Verify the way the provider verifies its own JWT access tokens."""
    keyset, registry = store.verification()
    return jwt.decode(token, keyset, registry=registry)


def test_verification_follows_rotation_and_retirement(store: KeyStore) -> None:
    """The key set and registry kept per snapshot: a rotated key still verifies what it
    signed, a retired one no longer does, and only algorithms that sign are accepted."""
    old = store.signing_key("ES256").kid
    token = sign(store, "ES256")
    assert ours(store, token).claims["sub"] == "alice"
    store.rotate("ES256")
    assert ours(store, token).header["kid"] == old
    store.retire(old)
    with pytest.raises(JoseError):
        ours(store, token)
    secret = OctKey.import_key(b"k" * 32)
    hs256 = jwt.encode({"alg": "HS256"}, {"sub": "alice"}, secret)
    with pytest.raises(JoseError):  # an algorithm none of our keys signs with
        ours(store, hs256)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_kid_is_the_rfc7638_thumbprint(store: KeyStore, alg: str) -> None:
    key = store.signing_key(alg)
    assert key.kid == rfc7638_thumbprint(key.as_dict(private=False))


def test_rsa_key_is_2048_bits(store: KeyStore) -> None:
    assert store.signing_key("RS256").raw_value.key_size == 2048


def test_public_jwks_has_no_private_members(store: KeyStore) -> None:
    store.rotate("RS256")
    jwks = store.public_jwks()
    assert len(jwks["keys"]) == 3
    for jwk in jwks["keys"]:
        assert not PRIVATE_MEMBERS & set(jwk), jwk
        assert jwk["use"] == "sig"


def test_rotate_signs_with_new_key_and_keeps_old_published(store: KeyStore) -> None:
    old = store.signing_key("RS256").kid
    old_token = sign(store, "RS256")
    before = store.version()

    (new,) = store.rotate("RS256")

    assert new != old
    assert store.signing_key("RS256").kid == new
    assert store.version() != before
    kids = [jwk["kid"] for jwk in store.public_jwks()["keys"]]
    assert kids[:2] == [new, store.signing_key("ES256").kid]  # active keys first
    assert old in kids
    assert verify(store, old_token).claims["sub"] == "alice"  # already issued tokens still verify
    assert verify(store, sign(store, "RS256")).header["kid"] == new


def test_rotate_without_alg_rotates_every_alg(store: KeyStore) -> None:
    created = store.rotate()
    assert [store.signing_key(alg).kid for alg in ("RS256", "ES256")] == created
    assert len(store.public_jwks()["keys"]) == 4


def test_generate_adds_an_inactive_key_when_one_is_active(store: KeyStore) -> None:
    active = store.signing_key("ES256").kid
    kid = store.generate("ES256")
    assert store.signing_key("ES256").kid == active
    assert kid in [jwk["kid"] for jwk in store.public_jwks()["keys"]]
    assert {k.kid: k.active for k in store.list()}[kid] is False


def test_retire_removes_key_and_private_file(store: KeyStore) -> None:
    old = store.signing_key("RS256").kid
    store.rotate("RS256")
    before = store.version()

    store.retire(old)

    assert old not in [jwk["kid"] for jwk in store.public_jwks()["keys"]]
    assert old not in [k.kid for k in store.list()]
    assert not (store.directory / f"{old}.json").exists()
    assert store.version() != before
    with pytest.raises(UnknownKeyError, match="no published key"):
        store.retire(old)


def test_retiring_the_active_key_is_refused(store: KeyStore) -> None:
    active = store.signing_key("ES256").kid
    with pytest.raises(ActiveKeyError, match="active ES256 key"):
        store.retire(active)
    assert store.signing_key("ES256").kid == active
    assert (store.directory / f"{active}.json").exists()


def test_retiring_an_unknown_kid_is_refused(store: KeyStore) -> None:
    with pytest.raises(UnknownKeyError) as excinfo:
        store.retire("../state")
    assert isinstance(excinfo.value, KeyError)
    assert (store.directory / "state.json").exists()


def test_missing_signing_key_has_a_clear_message(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "nowhere")
    with pytest.raises(MissingSigningKeyError, match="no signing key for RS256: run `idp keys"):
        store.signing_key("RS256")
    assert store.public_jwks() == {"keys": []}
    assert store.supported_algs() == []
    assert not (tmp_path / "nowhere").exists()  # reading never creates anything


def test_unsupported_alg_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="unsupported signing algorithm"):
        KeyStore(tmp_path).generate("HS256")


def test_reading_changes_nothing(store: KeyStore) -> None:
    before = {p.name: p.read_bytes() for p in store.directory.iterdir()}
    reader = KeyStore(store.directory)
    reader.public_jwks()
    reader.signing_key("RS256")
    reader.private_keyset()
    reader.list()
    reader.version()
    assert {p.name: p.read_bytes() for p in store.directory.iterdir()} == before


def test_other_processes_see_changes(store: KeyStore) -> None:
    reader = KeyStore(store.directory)
    assert reader.version() == store.version()
    (new,) = store.rotate("ES256")
    assert reader.signing_key("ES256").kid == new
    assert reader.version() == store.version()


def test_tampered_key_file_is_rejected(store: KeyStore, caplog: pytest.LogCaptureFixture) -> None:
    kid = store.signing_key("ES256").kid
    other = json.loads((store.directory / f"{store.signing_key('RS256').kid}.json").read_text())
    (store.directory / f"{kid}.json").write_text(json.dumps(other))
    reader = KeyStore(store.directory)
    assert kid not in [jwk["kid"] for jwk in reader.public_jwks()["keys"]]
    assert reader.supported_algs() == ["RS256"]
    with pytest.raises(MissingSigningKeyError):
        reader.signing_key("ES256")
    assert "thumbprint" in caplog.text


def test_concurrent_ensure_creates_one_key_per_alg(tmp_path: Path) -> None:
    """Several workers starting at once must not each make an active key."""
    directory = tmp_path / "keys"
    with ThreadPoolExecutor(max_workers=4) as pool:
        created = [
            kid
            for kids in pool.map(lambda _: KeyStore(directory).ensure(), range(4))
            for kid in kids
        ]
    assert len(created) == 2
    assert len(KeyStore(directory).public_jwks()["keys"]) == 2


@pytest.mark.parametrize("tzinfo", [None, UTC], ids=["naive", "aware"])
def test_created_at_comes_from_the_given_clock(tmp_path: Path, tzinfo: timezone | None) -> None:
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=tzinfo)
    store = KeyStore(tmp_path, now=lambda: moment)
    kid = store.generate("ES256")
    assert [k.created_at for k in store.list()] == [datetime(2030, 1, 2, 3, 4, 5)]  # naive UTC
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["keys"][kid]["created_at"] == "2030-01-02T03:04:05+00:00"


def test_a_kid_never_starts_with_a_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kid is a CLI argument: `idp keys retire -abc` would be read as an option."""
    dashed = generate_key("EC", "P-256", parameters={"alg": "ES256", "use": "sig"})
    while not dashed.thumbprint().startswith("-"):  # 1 in 64 thumbprints
        dashed = generate_key("EC", "P-256", parameters={"alg": "ES256", "use": "sig"})
    made = iter([dashed])
    real = keys_module._new_key
    monkeypatch.setattr(keys_module, "_new_key", lambda alg: next(made, None) or real(alg))
    kid = KeyStore(tmp_path / "keys").generate("ES256")
    assert not kid.startswith("-")
    assert next(made, None) is None, "the dashed key was offered and passed over"


def test_a_staged_key_is_published_and_signs_only_once_activated(store: KeyStore) -> None:
    moment = [datetime(2030, 1, 1, 12, 0, 0)]
    store._now = lambda: moment[0]
    old = store.signing_key("RS256").kid
    (staged,) = store.stage("RS256")
    assert staged in [jwk["kid"] for jwk in store.public_jwks()["keys"]]
    assert store.signing_key("RS256").kid == old
    assert {k.kid: (k.active, k.staged) for k in store.list()}[staged] == (False, True)

    moment[0] += timedelta(seconds=JWKS_MAX_AGE - 1)
    with pytest.raises(KeyNotYetPublishedError, match="cache the JWKS"):
        store.activate(staged)
    assert store.signing_key("RS256").kid == old
    moment[0] += timedelta(seconds=1)
    store.activate(staged)

    assert store.signing_key("RS256").kid == staged
    assert verify(store, sign(store, "RS256")).header["kid"] == staged
    assert old in [jwk["kid"] for jwk in store.public_jwks()["keys"]]
    assert {k.kid: (k.active, k.staged) for k in store.list()}[old] == (False, False)


def test_activate_can_be_forced_and_refuses_unknown_kids(store: KeyStore) -> None:
    (staged,) = store.stage("ES256")
    store.activate(staged, force=True)  # e.g. the old key leaked: waiting is worse
    assert store.signing_key("ES256").kid == staged
    with pytest.raises(UnknownKeyError):
        store.activate("-" + "A" * 42)


def test_files_written_by_root_belong_to_the_directory_owner(tmp_path: Path) -> None:
    """Workers run as the owner and read 0600 files: root's files would be unreadable."""
    if os.geteuid() != 0:
        pytest.skip("only root can give files away")
    store = KeyStore(tmp_path / "keys")
    store.directory.mkdir()
    os.chown(store.directory, 4242, 4343)
    store.ensure()
    store.stage("ES256")
    written = [store.directory / "state.json", store.directory / ".lock"]
    written += [store.directory / f"{k.kid}.json" for k in store.list()]
    assert {(p.stat().st_uid, p.stat().st_gid) for p in written} == {(4242, 4343)}
    assert {mode(p) for p in written} == {0o600}


def test_another_user_than_the_owner_is_refused(
    store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = store.directory.stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1 if owner else 1000)
    before = sorted(p.name for p in store.directory.iterdir())
    with pytest.raises(KeyStoreError, match=f"belongs to uid {owner}"):
        store.rotate()
    assert sorted(p.name for p in store.directory.iterdir()) == before


@pytest.mark.parametrize("damage", ["garbage", "directory"])
def test_an_unreadable_new_key_leaves_signing_with_the_previous_one(
    store: KeyStore, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A key file the workers cannot read is logged; signing carries on, never a 500."""
    warm = KeyStore(store.directory)
    old = warm.signing_key("RS256").kid
    (new,) = store.rotate("RS256")
    path = store.directory / f"{new}.json"
    path.unlink()
    if damage == "garbage":
        path.write_text("{not json")
    else:
        path.mkdir()  # reading it fails with an OSError, like a file we may not read

    for reader in (warm, KeyStore(store.directory)):  # a running worker and a fresh one
        assert reader.signing_key("RS256").kid == old
        assert verify(reader, sign(reader, "RS256")).header["kid"] == old
        assert new not in [jwk["kid"] for jwk in reader.public_jwks()["keys"]]
        assert reader.supported_algs() == ["RS256", "ES256"]
    assert all(new in record.getMessage() for record in caplog.records)
    assert len(caplog.records) == 4, "two lines per worker, not per request"


def test_an_unreadable_state_file_keeps_the_loaded_keys(
    store: KeyStore, caplog: pytest.LogCaptureFixture
) -> None:
    kid = store.signing_key("ES256").kid
    state = store.directory / "state.json"
    state.rename(store.directory / "saved")
    state.mkdir()
    assert store.signing_key("ES256").kid == kid
    state.rmdir()
    state.write_text("{half a state")
    assert store.signing_key("ES256").kid == kid
    assert "cannot read state.json" in caplog.text
    assert "state.json is not a valid key state" in caplog.text
