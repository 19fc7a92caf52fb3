"""authn.trusted_device: trust per user, client and browser; it ends, it is never extended."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from idp.authn import trusted_device
from idp.extensions import db
from idp.models.trusted_device import TrustedDevice
from tests.support import make_client, make_user

NOW = datetime(2026, 3, 4, 5, 6, 7)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


COOKIE = "device-token"


def trust(user, cookie=COOKIE, *, agent="Chrome on Windows", at=NOW, remember=True):
    """The user just passed a second factor in this browser for client "rp"."""
    return trusted_device.after_challenge(
        user.id, "rp", cookie, remember=remember, days=30, agent=agent, ip="192.0.2.1", at=at
    )


@pytest.mark.parametrize(
    ("user_agent", "summary"),
    [
        (CHROME, "Chrome on Windows"),
        (FIREFOX, "Firefox on Linux"),
        ("Mozilla/5.0 (Windows NT 10.0) Chrome/131.0 Safari/537.36 Edg/131.0", "Edge on Windows"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1", "Safari on iOS"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) Safari/605.1.15", "Safari on macOS"),
        ("Mozilla/5.0 (Linux; Android 15) Chrome/131.0 Mobile", "Chrome on Android"),
        ("curl/8.5.0", "Unknown browser on unknown system"),
    ],
)
def test_agent_summary_is_browser_and_system_only(user_agent: str, summary: str) -> None:
    assert trusted_device.agent_summary(user_agent) == summary


def test_not_remembered_means_not_trusted(ctx, user) -> None:
    assert trust(user, remember=False) is None
    assert trusted_device.find(user.id, "rp", "device-token", at=NOW) is None


def test_trust_lasts_its_days_for_that_browser_and_client_only(ctx, user) -> None:
    record = trust(user)
    assert record.expires_at == NOW + timedelta(days=30)
    assert record.device_hash != "device-token"  # the cookie value is stored hashed
    just_before = NOW + timedelta(days=30, seconds=-1)
    assert trusted_device.find(user.id, "rp", "device-token", at=just_before) == record
    assert trusted_device.find(user.id, "rp", "device-token", at=record.expires_at) is None
    assert trusted_device.find(user.id, "rp", "another-token", at=NOW) is None
    assert trusted_device.find(user.id, "other-rp", "device-token", at=NOW) is None
    assert trusted_device.find(user.id, "rp", None, at=NOW) is None


def test_a_later_challenge_reverifies_without_extending(ctx, user) -> None:
    record = trust(user)
    later = NOW + timedelta(days=10)
    again = trust(user, at=later, remember=False)
    assert again is not None and again.id == record.id
    assert again.last_verified_at == later and again.expires_at == NOW + timedelta(days=30)
    trusted_device.used(again, at=later + timedelta(hours=1))
    assert again.last_used_at == later + timedelta(hours=1)


def test_the_cookie_in_another_browser_is_replaced_when_remembered(ctx, user) -> None:
    old = trust(user)
    new = trust(user, agent="Firefox on Linux", at=NOW + timedelta(days=1))
    assert new.id != old.id
    assert old.revoked_at == NOW + timedelta(days=1) and old.revoked_reason == "replaced"
    state = trusted_device.as_state(new, agent="Chrome on Windows")
    assert state is not None and not state.agent_matches
    assert trusted_device.as_state(new, agent="Firefox on Linux").agent_matches
    assert trusted_device.as_state(None, agent="Firefox on Linux") is None


def test_revoking_a_user_ends_every_device(ctx, user) -> None:
    trust(user, "one")
    trust(user, "two")
    assert trusted_device.known_browser(user.id, "one", at=NOW, agent="Chrome on Windows")
    assert not trusted_device.known_browser(user.id, "one", at=NOW, agent="Firefox on Linux")
    assert trusted_device.revoke_user(user.id, at=NOW, reason="password_changed") == 2
    assert not trusted_device.known_browser(user.id, "one", at=NOW, agent="Chrome on Windows")
    assert trusted_device.revoke_user(user.id, at=NOW, reason="password_changed") == 0


def test_a_user_forgets_only_their_own_device(app, ctx, user) -> None:
    record = trust(user)
    other = make_user(app, "grace@example.com")
    assert not trusted_device.forget(other.id, record.id, at=NOW)
    assert trusted_device.forget(user.id, record.id, at=NOW)
    assert db.session.get(TrustedDevice, record.id).revoked_reason == "forgotten"


def test_devices_are_listed_by_client_name(app, ctx, user) -> None:
    client_id, _ = make_client(app, "payroll")
    trusted_device.after_challenge(
        user.id, client_id, "t", remember=True, days=30, agent="Chrome on Windows", ip="", at=NOW
    )
    trust(user, "u")  # client "rp" is not registered (any more): listed by its id
    listed = trusted_device.devices_by_client(user.id, at=NOW)
    assert {name: len(found) for name, found in listed.items()} == {"PAYROLL Portal": 1, "rp": 1}
