"""`idp keys generate | rotate | retire | list` and the JWKS the app then serves."""

from __future__ import annotations

import pytest


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
    result = runner.invoke(args=["keys", "retire", kid])
    assert result.exit_code != 0
    assert f"no published key with kid '{kid}'" in result.output, result.output
