"""authn.totp: RFC 6238 codes, one step of drift either way, each step accepted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from idp.authn import totp
from idp.authn.errors import CodeReplayed, InvalidCode
from idp.extensions import db
from idp.models.totp_credential import TotpCredential

NOW = datetime(2026, 3, 4, 5, 6, 7)  # naive UTC, as the app's clock gives it
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def code_at(at: datetime, secret: str = SECRET) -> str:
    """What an authenticator app shows at `at`."""
    return pyotp.TOTP(secret).at(at.replace(tzinfo=UTC))


def step_of(at: datetime) -> int:
    return int(at.replace(tzinfo=UTC).timestamp()) // totp.STEP_SECONDS


def test_the_current_code_gives_its_time_step() -> None:
    assert totp.verify_totp(SECRET, code_at(NOW), now=NOW, last_step=0) == step_of(NOW)


@pytest.mark.parametrize("drift", [-30, 30])
def test_a_code_one_step_away_is_accepted(drift: int) -> None:
    then = NOW + timedelta(seconds=drift)
    assert totp.verify_totp(SECRET, code_at(then), now=NOW, last_step=0) == step_of(then)


@pytest.mark.parametrize("drift", [-90, 90])
def test_a_code_two_steps_away_is_refused(drift: int) -> None:
    with pytest.raises(InvalidCode):
        totp.verify_totp(SECRET, code_at(NOW + timedelta(seconds=drift)), now=NOW, last_step=0)


def test_a_step_already_used_is_a_replay() -> None:
    with pytest.raises(CodeReplayed):
        totp.verify_totp(SECRET, code_at(NOW), now=NOW, last_step=step_of(NOW))


def test_spaces_are_ignored_but_not_other_characters() -> None:
    code = code_at(NOW)
    assert totp.verify_totp(SECRET, f" {code[:3]} {code[3:]} ", now=NOW, last_step=0)
    for wrong in (code[:5], code + "0", f"{code[:3]}-{code[3:]}", "abcdef", ""):
        with pytest.raises(InvalidCode):
            totp.verify_totp(SECRET, wrong, now=NOW, last_step=0)


def test_secrets_are_sealed_for_this_app_only() -> None:
    sealed = totp.seal(SECRET, app_secret="one")
    assert SECRET not in sealed
    assert totp.unseal(sealed, app_secret="one") == SECRET
    with pytest.raises(InvalidCode):
        totp.unseal(sealed, app_secret="another")


def test_new_secrets_are_160_bits_of_base32_shown_in_groups_of_four() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and secret != totp.new_secret()
    assert pyotp.TOTP(secret).now().isdigit()
    assert totp.grouped("ABCDEFGHIJ") == "ABCD EFGH IJ"


def test_the_provisioning_uri_names_issuer_and_account() -> None:
    uri = totp.provisioning_uri(SECRET, account="ada@example.com", issuer="Insurer")
    assert uri.startswith("otpauth://totp/Insurer:ada%40example.com?")
    assert f"secret={SECRET}" in uri and "issuer=Insurer" in uri
    assert totp.qr_svg(uri).startswith("<svg")


def test_enroll_needs_the_right_code_and_stores_the_secret_sealed(ctx, user, secret_key) -> None:
    with pytest.raises(InvalidCode):
        totp.enroll(user.id, name="Phone", secret=SECRET, code="000000", now=NOW, app_secret="x")
    credential = totp.enroll(
        user.id, name="  ", secret=SECRET, code=code_at(NOW), now=NOW, app_secret=secret_key
    )
    db.session.commit()
    assert credential.name == "Authenticator app"
    assert credential.last_step == step_of(NOW)  # the enrolment code cannot sign in again
    assert SECRET not in credential.secret_encrypted
    assert totp.unseal(credential.secret_encrypted, app_secret=secret_key) == SECRET


def test_a_users_code_is_accepted_once(ctx, user, secret_key) -> None:
    earlier = NOW - timedelta(minutes=5)
    totp.enroll(
        user.id,
        name="Phone",
        secret=SECRET,
        code=code_at(earlier),
        now=earlier,
        app_secret=secret_key,
    )
    db.session.commit()
    used = totp.verify_for_user(user.id, code_at(NOW), now=NOW, app_secret=secret_key)
    assert used.last_step == step_of(NOW) and used.last_used_at == NOW
    with pytest.raises(CodeReplayed):
        totp.verify_for_user(user.id, code_at(NOW), now=NOW, app_secret=secret_key)
    with pytest.raises(InvalidCode):
        totp.verify_for_user(user.id, "123456", now=NOW, app_secret=secret_key)


def test_any_of_the_users_apps_may_answer(ctx, user, secret_key) -> None:
    other = totp.new_secret()
    for name, secret in (("Phone", SECRET), ("Tablet", other)):
        totp.enroll(
            user.id, name=name, secret=secret, code=code_at(NOW - timedelta(minutes=5), secret),
            now=NOW - timedelta(minutes=5), app_secret=secret_key,
        )  # fmt: skip
    db.session.commit()
    used = totp.verify_for_user(user.id, code_at(NOW, other), now=NOW, app_secret=secret_key)
    assert used.name == "Tablet"
    assert db.session.get(TotpCredential, used.id).last_step == step_of(NOW)


def test_a_user_without_an_app_has_no_valid_code(ctx, user, secret_key) -> None:
    with pytest.raises(InvalidCode):
        totp.verify_for_user(user.id, code_at(NOW), now=NOW, app_secret=secret_key)
