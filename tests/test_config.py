"""Settings from IDP_* variables, validated at start-up with a message naming the variable."""

from __future__ import annotations

import pytest
from argon2 import Type, extract_parameters

from idp import create_app
from idp.config import ConfigError, load_settings


def settings(tmp_path, **env: str):
    return load_settings(environ={"IDP_INSTANCE_DIR": str(tmp_path), **env})


def test_defaults_sqlite_under_instance_and_a_persisted_secret(tmp_path):
    first = settings(tmp_path)
    assert first.database_url == f"sqlite:///{tmp_path / 'idp.db'}"
    assert first.secret_key and (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert settings(tmp_path).secret_key == first.secret_key
    assert not first.secure_cookies  # http://localhost


def test_environment_values_are_typed(tmp_path):
    s = settings(
        tmp_path,
        IDP_ISSUER="https://id.insurer.example",
        IDP_REVERIFY_DAYS="7",
        IDP_COOKIE_SECURE="false",
        IDP_DATABASE_URL="postgresql://u@db/idp",
    )
    assert s.reverify_days == 7 and s.cookie_secure is False
    assert s.database_url == "postgresql+psycopg://u@db/idp"
    assert s.webauthn_rp_id == "id.insurer.example"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("IDP_ISSUER", "http://id.example.com", "https is required"),
        ("IDP_ISSUER", "ftp://id.example.com", r"http\(s\) URL"),
        ("IDP_ARGON2_TIME_COST", "many", "IDP_ARGON2_TIME_COST"),
        ("IDP_COOKIE_SECURE", "perhaps", "IDP_COOKIE_SECURE"),
        ("IDP_SESSION_IDLE_MINUTES", "0", "at least 1"),
        ("IDP_SMTP_URL", "http://mail", "IDP_SMTP_URL"),
        ("IDP_DATABASE_URL", "mysql://x", "IDP_DATABASE_URL"),
        ("IDP_ENV", "staging", "IDP_ENV"),
        ("IDP_REFRESH_REUSE_GRACE_SECONDS", "-1", "IDP_REFRESH_REUSE_GRACE_SECONDS"),
        ("IDP_REFRESH_REUSE_GRACE_SECONDS", "3600", "between 0 .off. and 60"),
    ],
)
def test_bad_values_stop_start_up_with_a_clear_message(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=message):
        settings(tmp_path, **{name: value})


def test_an_app_hashes_passwords_with_the_production_argon2_parameters_by_default(
    tmp_path, _environment
):
    """Test apps use cheap argon2 (tests/conftest.py); an app left to its defaults does not."""
    app = create_app(
        {
            "instance_dir": str(tmp_path),
            "database_url": f"sqlite:///{tmp_path / 'idp.db'}",
            "keys_dir": str(_environment["keys_dir"]),
        }
    )
    hashed = app.extensions["idp.passwords"].hash("plum-orchard-velvet-93")
    parameters = extract_parameters(hashed)
    assert parameters.type is Type.ID
    # OWASP's argon2id: t=2, m=19 MiB, p=1
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (2, 19456, 1)
