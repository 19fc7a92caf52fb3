"""`idp keys generate | rotate | retire | list` and the JWKS the app then serves."""

from __future__ import annotations

import os

import pytest
from joserfc import jws

from idp.oidc.keys import JWKS_MAX_AGE
from tests.support import RelyingParty, SignInFlow, enroll_totp, make_client, make_user


@pytest.fixture
def overrides(tmp_path):
    return {"keys_dir": str(tmp_path / "own-keys")}


def test_generate_rotate_retire(app, client, tmp_path):
    runner = app.test_cli_runner()
    assert "created" in runner.invoke(args=["keys", "generate"]).output
    files = list((tmp_path / "own-keys").glob("*.json"))
    assert files and all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    old = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    assert len(old) == 2

    new_kid = runner.invoke(args=["keys", "rotate", "--alg", "RS256"]).output.split()[-1]
    served = {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    assert served == old | {new_kid}, "the old key stays published after rotation"

    refused = runner.invoke(args=["keys", "retire", new_kid])
    assert refused.exit_code != 0 and "active" in refused.output
    listing = runner.invoke(args=["keys", "list"]).output
    retired = next(
        line.split()[0] for line in listing.splitlines() if "RS256" in line and "active" not in line
    )
    assert runner.invoke(args=["keys", "retire", retired]).exit_code == 0
    assert retired not in {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}


def test_a_kid_starting_with_a_dash_is_an_argument_not_an_option(app):
    runner = app.test_cli_runner()
    kid = "-" + "A" * 42
    for command in ("retire", "activate"):
        result = runner.invoke(args=["keys", command, kid])
        assert result.exit_code != 0
        assert f"no published key with kid '{kid}'" in result.output, result.output


@pytest.fixture
def signer(app, clock):
    """A user and an RP; calling it runs a code flow and returns the kid of the ID token."""
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    app.test_cli_runner().invoke(args=["keys", "generate"])

    def sign_in() -> str:
        clock.advance(seconds=30)  # a fresh TOTP step: the last code is spent
        browser = app.test_client()
        flow = SignInFlow(browser, RelyingParty(browser, secret=client_secret))
        id_token = flow.authorize_and_exchange(totp_secret).tokens["id_token"]
        return jws.extract_compact(id_token.encode()).protected["kid"]

    return sign_in


def published(client) -> set[str]:
    response = client.get("/jwks.json")
    assert response.headers["Cache-Control"] == f"public, max-age={JWKS_MAX_AGE}"
    return {k["kid"] for k in response.get_json()["keys"]}


def test_a_staged_key_is_published_a_cache_lifetime_before_it_signs(app, client, clock, signer):
    runner = app.test_cli_runner()
    old = signer()
    result = runner.invoke(args=["keys", "rotate", "--stage", "--alg", "RS256"])
    staged = result.output.split("staged key: ")[1].split()[0]
    assert staged in published(client)
    assert signer() == old, "a staged key does not sign"
    assert "staged" in runner.invoke(args=["keys", "list"]).output

    early = runner.invoke(args=["keys", "activate", staged])
    assert early.exit_code != 0 and f"cache the JWKS for {JWKS_MAX_AGE} s" in early.output
    clock.advance(seconds=JWKS_MAX_AGE)
    assert runner.invoke(args=["keys", "activate", staged]).exit_code == 0

    assert signer() == staged
    assert {old, staged} <= published(client), "the replaced key stays published"


def test_root_running_the_cli_hands_new_files_to_the_directory_owner(app, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can give files away")
    directory = tmp_path / "own-keys"
    directory.mkdir()
    os.chown(directory, 4242, 4343)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["keys", "generate"]).exit_code == 0
    assert runner.invoke(args=["keys", "rotate", "--stage"]).exit_code == 0
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in directory.iterdir()}
    assert owners == {(4242, 4343)}


def test_another_user_than_the_owner_is_refused_clearly(app, tmp_path, monkeypatch):
    directory = tmp_path / "own-keys"
    directory.mkdir()
    monkeypatch.setattr(os, "geteuid", lambda: directory.stat().st_uid + 1)
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code != 0 and "run `idp keys` as the user" in result.output
    assert not list(directory.iterdir())


def test_an_unreadable_new_key_file_does_not_stop_code_redemption(app, signer, caplog):
    """Root's `idp keys rotate` once left a file workers could not read: every /token was a 500."""
    old = signer()
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--alg", "RS256"])
    new = result.output.split()[-1]
    (app.extensions["idp.oidc"].keys.directory / f"{new}.json").write_text("unreadable")
    assert signer() == old
    assert f"cannot load key {new}" in caplog.text


def test_an_id_token_names_the_key_that_signed_it_when_a_rotation_lands_mid_token(
    app, client, monkeypatch
):
    """Another process activating a key between the token's header and its signature: the
    header's kid still names the key that signed (the RP's check of the JWKS by kid holds)."""
    runner = app.test_cli_runner()
    runner.invoke(args=["keys", "generate"])
    store = app.extensions["idp.oidc"].keys
    looked_up = store.signing_key

    def then_rotated(alg):
        key = looked_up(alg)
        if alg == "RS256":
            store.rotate(alg)  # the next lookup of RS256 finds a new active key
        return key

    monkeypatch.setattr(store, "signing_key", then_rotated)
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app)
    rp = RelyingParty(client, secret=client_secret)
    # authorize_and_exchange verifies the ID token against the served JWKS, the key by its kid.
    exchange = SignInFlow(client, rp).authorize_and_exchange(secret)
    assert exchange.claims["sub"]
