"""authn.recovery_code: ten single-use codes, stored hashed, a new set voids the old one."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from idp.authn import recovery_code
from idp.authn.errors import InvalidCode
from idp.extensions import db
from idp.models.recovery_code import RecoveryCode
from tests.support import make_user

NOW = datetime(2026, 3, 4, 5, 6, 7)


def test_ten_distinct_codes_readable_off_paper_and_stored_hashed(ctx, user, secret_key) -> None:
    codes = recovery_code.issue(user.id, now=NOW, app_secret=secret_key)
    assert len(set(codes)) == recovery_code.COUNT == 10
    assert all(re.fullmatch(r"[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}", c) for c in codes)
    stored = set(db.session.scalars(select(RecoveryCode.code_hash)))
    assert len(stored) == 10 and not stored & {c.replace("-", "") for c in codes}


def test_each_code_works_once(ctx, user, secret_key) -> None:
    codes = recovery_code.issue(user.id, now=NOW, app_secret=secret_key)
    spent = recovery_code.use(user.id, codes[3], now=NOW + timedelta(days=2), app_secret=secret_key)
    assert spent == recovery_code.Spent(remaining=9, issued_at=NOW)
    with pytest.raises(InvalidCode):
        recovery_code.use(user.id, codes[3], now=NOW, app_secret=secret_key)


def test_case_dashes_and_spaces_do_not_matter(ctx, user, secret_key) -> None:
    code = recovery_code.issue(user.id, now=NOW, app_secret=secret_key)[0]
    typed = " " + code.upper().replace("-", " ") + " "
    assert recovery_code.use(user.id, typed, now=NOW, app_secret=secret_key).remaining == 9


def test_a_new_set_voids_the_old_one(ctx, user, secret_key) -> None:
    old = recovery_code.issue(user.id, now=NOW, app_secret=secret_key)
    new = recovery_code.issue(user.id, now=NOW, app_secret=secret_key)
    with pytest.raises(InvalidCode):
        recovery_code.use(user.id, old[0], now=NOW, app_secret=secret_key)
    assert recovery_code.use(user.id, new[0], now=NOW, app_secret=secret_key).remaining == 9


def test_a_code_is_the_users_own(app, ctx, user, secret_key) -> None:
    codes = recovery_code.issue(user.id, now=NOW, app_secret=secret_key)
    other = make_user(app, "grace@example.com")
    with pytest.raises(InvalidCode):
        recovery_code.use(other.id, codes[0], now=NOW, app_secret=secret_key)
    with pytest.raises(InvalidCode):
        recovery_code.use(user.id, codes[0], now=NOW, app_secret="another app's secret")


def test_codes_sealed_for_display_open_only_for_their_user(secret_key) -> None:
    sealed = recovery_code.seal_for_display(7, ["abcde-fghjk"], app_secret=secret_key)
    assert "abcde" not in sealed
    assert recovery_code.unseal_for_display(sealed, 7, app_secret=secret_key) == ["abcde-fghjk"]
    assert recovery_code.unseal_for_display(sealed, 8, app_secret=secret_key) == []
    assert recovery_code.unseal_for_display(sealed, 7, app_secret="other") == []
    assert recovery_code.unseal_for_display(sealed[:-2], 7, app_secret=secret_key) == []
    assert recovery_code.unseal_for_display(None, 7, app_secret=secret_key) == []
