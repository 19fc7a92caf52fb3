"""The `idp` command mirrors the admin API: users, clients, import and the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import bcrypt
import pytest

from idp.extensions import db
from idp.models.client import Client
from idp.models.hashing import sha256_hex
from tests.support import RelyingParty, enroll_totp, latest_mail, make_user
from tests.web.test_admin_helpers import client_credentials, events, user_row

STRONG = "granite-willow-sextant-84"
LOCAL_CALLBACK = "http://localhost:3000/callback"


@pytest.fixture
def idp(app):
    runner = app.test_cli_runner()

    def run(*args: str, ok: bool = True, **kwargs):
        result = runner.invoke(args=list(args), **kwargs)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result.output

    return run


def stored_client(app, client_id: str) -> Client | None:
    with app.app_context():
        found = db.session.scalar(db.select(Client).where(Client.client_id == client_id))
        if found is not None:
            db.session.expunge(found)
        return found


def test_user_create_with_a_password_or_an_invitation(app, idp):
    out = idp(
        "user",
        "create",
        "--email",
        "Eve@Example.com",
        "--name",
        "Eve",
        "--password",
        STRONG,
        "--admin",
        "--role",
        "agent",
    )
    assert "created user eve@example.com" in out
    eve = user_row(app, "eve@example.com")
    assert eve.is_admin and eve.roles == ["agent"] and eve.activated_at is None
    assert app.extensions["idp.passwords"].check(eve.password_hash, STRONG)
    # Prompted when neither --password nor --invite is given.
    idp("user", "create", "--email", "pat@example.com", input=f"{STRONG}\n{STRONG}\n")
    assert user_row(app, "pat@example.com").password_hash
    out = idp("user", "create", "--email", "ivy@example.com", "--invite")
    assert "invited" in out and "/activate/" in latest_mail(app, "ivy@example.com")
    assert "already exists" in idp(
        "user", "create", "--email", "EVE@example.com", "--password", STRONG, ok=False
    )
    assert "Password refused" in idp(
        "user", "create", "--email", "w@example.com", "--password", "password", ok=False
    )
    assert events(app, "user.created")[0].detail == {"via": "cli", "admin": True}


def test_user_support_commands(app, idp):
    make_user(app, "root@example.com", is_admin=True)
    user = make_user(app, "sam@example.com")
    enroll_totp(app, user.id)
    idp("user", "grant-admin", "sam@example.com")
    assert user_row(app, "sam@example.com").is_admin
    idp("user", "revoke-admin", "sam@example.com")
    idp("user", "disable", "sam@example.com")
    assert user_row(app, "sam@example.com").disabled_at is not None
    idp("user", "enable", "sam@example.com")
    idp("user", "unlock", "sam@example.com")
    idp(
        "user",
        "update",
        "sam@example.com",
        "--role",
        "agent",
        "--role",
        "customer",
        "--name",
        "Sam S",
    )
    assert user_row(app, "sam@example.com").roles == ["agent", "customer"]
    shown = json.loads(idp("user", "show", "sam@example.com"))
    assert [f["kind"] for f in shown["factors"]] == ["totp"] and shown["name"] == "Sam S"
    assert "trusted devices revoked" in idp("user", "revoke-trust", "sam@example.com")
    idp("user", "reset-mfa", "sam@example.com")
    assert json.loads(idp("user", "show", "sam@example.com"))["factors"] == []
    assert "reset the second step" in latest_mail(app, "sam@example.com")
    assert "sam@example.com  pending" in idp("user", "list", "--search", "sam")
    assert "No user with email" in idp("user", "disable", "nobody@example.com", ok=False)
    assert "last active admin" in idp("user", "disable", "root@example.com", ok=False)
    idp("user", "delete", "sam@example.com", "--yes")
    assert user_row(app, "sam@example.com") is None


def test_user_import_all_or_nothing(app, idp, tmp_path):
    good = tmp_path / "users.csv"
    hashed = bcrypt.hashpw(STRONG.encode(), bcrypt.gensalt(4)).decode()
    good.write_text(
        f"email,name,password_hash\nann@example.com,Ann,{hashed}\nben@example.com,Ben,\n"
    )
    assert "imported 2 user(s) (1 bcrypt, 1 none)" in idp("user", "import", str(good))
    bad = tmp_path / "more.json"
    bad.write_text('[\n{"email": "cal@example.com"},\n{"email": "ann@example.com"}\n]\n')
    out = idp("user", "import", str(bad), ok=False)
    assert "Line 3: Email address already has an account" in out and "nothing was imported" in out
    assert user_row(app, "cal@example.com") is None


def test_client_commands(app, client, idp):
    out = idp(
        "client",
        "create",
        "--name",
        "Ops",
        "--client-id",
        "ops",
        "--redirect-uri",
        "https://ops.example/cb",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "client_credentials",
        "--scope",
        "openid",
        "--scope",
        "idp:admin",
        "--mfa",
        "phishing_resistant",
    )
    secret = out.split("client_secret: ")[1].split()[0]
    assert stored_client(app, "ops").secret_hash == sha256_hex(secret)
    assert client_credentials(client, "ops", secret, "idp:admin")
    idp(
        "client",
        "update",
        "ops",
        "--name",
        "Operations",
        "--remember-days",
        "5",
        "--no-remember-device",
    )
    updated = stored_client(app, "ops")
    assert (
        updated.name == "Operations" and updated.remember_days == 5 and not updated.remember_device
    )
    assert updated.grant_types == ["authorization_code", "client_credentials"]
    assert "must use https" in idp(
        "client", "update", "ops", "--redirect-uri", "http://ops.example/cb", ok=False
    )
    rotated = idp("client", "rotate-secret", "ops").split("client_secret: ")[1].split()[0]
    assert rotated != secret and stored_client(app, "ops").secret_hash == sha256_hex(rotated)
    idp("client", "disable", "ops")
    assert "disabled" in idp("client", "list")
    idp("client", "enable", "ops")
    assert json.loads(idp("client", "show", "ops"))["name"] == "Operations"
    public = idp(
        "client",
        "create",
        "--name",
        "SPA",
        "--public",
        "--redirect-uri",
        "http://localhost:3000/cb",
    )
    assert "client_secret" not in public
    idp("client", "delete", "ops", "--yes")
    assert stored_client(app, "ops") is None
    assert "No client" in idp("client", "delete", "ops", "--yes", ok=False)
    assert [e.event for e in events(app) if e.client_id == "ops"] == [
        "client.created",
        "client.updated",
        "client.secret_rotated",
        "client.disabled",
        "client.enabled",
        "client.deleted",
    ]


def test_audit_export_and_prune(app, idp, clock, tmp_path):
    make_user(app, "root@example.com", is_admin=True)
    idp("user", "create", "--email", "old@example.com", "--invite")
    clock.advance(days=400)
    idp("user", "create", "--email", "new@example.com", "--invite")
    lines = idp("audit", "export", "--event", "user.*", "--user", "new@example.com").splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["user.created", "user.invited"]
    assert json.loads(lines[0])["user_email"] == "new@example.com"
    target = tmp_path / "all.jsonl"
    idp("audit", "export", "--output", str(target))
    assert len(target.read_text().splitlines()) == 6  # four user events, two exports
    assert "From must be YYYY-MM-DD" in idp("audit", "export", "--since", "last week", ok=False)
    assert "deleted 2 event(s) older than 365 days" in idp("audit", "prune")
    remaining = [e.event for e in events(app)]
    assert remaining == [
        "user.created",
        "user.invited",
        "audit.exported",
        "audit.exported",
        "audit.pruned",
    ]
    assert "nothing deleted" in idp("audit", "prune", "--days", "0")


@pytest.mark.parametrize("overrides", [{"audit_retention_days": 30}])
def test_prune_follows_the_retention_setting(app, idp, clock):
    make_user(app, "root@example.com")
    idp("user", "unlock", "root@example.com")
    clock.advance(days=31)
    assert "deleted 1 event(s) older than 30 days" in idp("audit", "prune")


def demo_secret(out: str) -> str:
    [line] = [line for line in out.splitlines() if "Demo client:" in line]
    return line.split(" / ")[1].strip()


def test_demo_keeps_its_secret_across_runs(app, idp, client):
    first = idp("demo")
    assert "demo@example.com" in first and "demo-rp" in first
    assert user_row(app, "demo@example.com").activated_at is not None
    secret = demo_secret(first)
    assert demo_secret(idp("demo")) == secret  # `make run` again: the RP's config still works
    kept = Path(app.extensions["idp.settings"].instance_dir) / "demo-client-secret"
    assert kept.read_text().strip() == secret and kept.stat().st_mode & 0o777 == 0o600
    for callback in ("http://localhost:3000/callback", "http://localhost:5173/callback"):
        assert callback in first
    # The token endpoint takes the secret: the error is about the made-up code, not the client.
    rp = RelyingParty(client, "demo-rp", secret=secret, redirect_uri=LOCAL_CALLBACK)
    assert rp.redeem("made-up-code").get_json()["error"] == "invalid_grant"
    rp.secret = "not-the-secret"
    assert rp.redeem("made-up-code").get_json()["error"] == "invalid_client"


def test_demo_issues_a_new_secret_when_the_kept_one_no_longer_matches(app, idp):
    secret = demo_secret(idp("demo"))
    kept = Path(app.extensions["idp.settings"].instance_dir) / "demo-client-secret"
    kept.write_text("edited-by-hand\n")
    fresh = demo_secret(idp("demo"))
    assert fresh not in (secret, "edited-by-hand") and kept.read_text().strip() == fresh
    assert stored_client(app, "demo-rp").check_client_secret(fresh)


def test_client_access_token_format(app, idp):
    """`--access-token-format jwt` gives the client RFC 9068 access tokens."""
    idp(
        "client",
        "create",
        "--name",
        "Jobs",
        "--client-id",
        "jobs",
        "--redirect-uri",
        "https://jobs.example/cb",
    )
    assert stored_client(app, "jobs").access_token_format == "opaque"
    idp("client", "update", "jobs", "--access-token-format", "jwt")
    assert stored_client(app, "jobs").access_token_format == "jwt"
    assert "Invalid value" in idp(
        "client", "update", "jobs", "--access-token-format", "jws", ok=False
    )
