"""`idp` run from the wrong folder: one line saying what is missing, exit code 1, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINT = "import sys; from idp.cli import main; sys.argv[0] = 'idp'; main()"


def idp(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The `idp` console script's entry point, with this checkout's code, in `cwd`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", ENTRY_POINT, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keys_list_without_a_keys_directory(tmp_path):
    done = idp("keys", "list", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"no keys directory at {tmp_path / 'keys'}" in done.stderr
    assert "idp keys generate" in done.stderr


def test_user_list_before_the_tables_exist(tmp_path):
    done = idp("user", "list", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("idp: ")]
    assert "has no tables yet" in line and "run `idp db upgrade`" in line
    assert str(tmp_path / "instance" / "idp.db") in line
