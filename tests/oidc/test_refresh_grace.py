"""A refresh retried after a lost response keeps the grant; a replay after the grace ends it.

RFC 9700 4.14.2 rotation with reuse detection, and a short grace (refresh_reuse_grace_seconds,
like Okta's grace period and Auth0's reuse interval) for the client that already rotated.
"""

from __future__ import annotations

import pytest

from tests.oidc.test_tokens import OFFLINE, active, signed_in_rp
from tests.support import RelyingParty, make_client
from tests.web.test_admin_helpers import events


def rotated(app, client):
    """An RP that refreshed once and lost the answer: (rp, the old token, the lost answer)."""
    rp, exchange = signed_in_rp(app, client, scope=OFFLINE)
    old = exchange.tokens["refresh_token"]
    lost = rp.refresh(old).get_json()
    return rp, old, lost


def test_a_retry_within_the_grace_gets_a_new_pair_and_the_lost_one_is_revoked(app, client, clock):
    rp, old, lost = rotated(app, client)
    clock.advance(seconds=9)

    retry = rp.refresh(old)

    assert retry.status_code == 200, retry.text
    fresh = retry.get_json()
    assert fresh["refresh_token"] not in (old, lost["refresh_token"])
    assert rp.userinfo(fresh["access_token"]).status_code == 200
    # One live refresh token per grant: the pair whose response was lost is withdrawn.
    assert not active(rp, lost["refresh_token"])
    assert not active(rp, lost["access_token"])
    assert [e.client_id for e in events(app, "refresh_token.retried")] == ["rp"]
    assert events(app, "refresh_token.reused") == []
    # The grant goes on: the new token rotates as usual.
    assert rp.refresh(fresh["refresh_token"]).status_code == 200


def test_a_second_retry_within_the_grace_also_works(app, client, clock):
    rp, old, _ = rotated(app, client)
    first = rp.refresh(old).get_json()
    clock.advance(seconds=5)

    second = rp.refresh(old)

    assert second.status_code == 200
    assert not active(rp, first["refresh_token"])
    assert active(rp, second.get_json()["refresh_token"])


def test_a_reuse_after_the_grace_revokes_the_family(app, client, clock):
    rp, old, lost = rotated(app, client)
    clock.advance(seconds=10)

    reuse = rp.refresh(old)

    assert reuse.status_code == 400
    assert reuse.get_json()["error"] == "invalid_grant"
    assert not active(rp, lost["refresh_token"])
    assert not active(rp, lost["access_token"])
    assert rp.refresh(lost["refresh_token"]).status_code == 400
    assert len(events(app, "refresh_token.reused")) == 1


def test_no_grace_once_the_new_token_was_used(app, client, clock):
    # The client got its answer (it used it): the old token again is a replay, not a retry.
    rp, old, lost = rotated(app, client)
    newest = rp.refresh(lost["refresh_token"]).get_json()
    clock.advance(seconds=1)

    assert rp.refresh(old).status_code == 400
    assert not active(rp, newest["refresh_token"])
    assert len(events(app, "refresh_token.reused")) == 1


def test_another_client_cannot_use_the_grace(app, client, clock):
    rp, old, lost = rotated(app, client)
    _, other_secret = make_client(app, "other")
    other = RelyingParty(client, "other", secret=other_secret)
    clock.advance(seconds=1)

    response = other.refresh(old)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert "access_token" not in response.get_json()
    assert events(app, "refresh_token.retried") == []
    # Someone else holding a rotated token is what reuse detection is for.
    assert not active(rp, lost["refresh_token"])


@pytest.mark.parametrize("overrides", [{"refresh_reuse_grace_seconds": 0}])
def test_a_grace_of_zero_turns_it_off(app, client, clock):
    rp, old, lost = rotated(app, client)

    reuse = rp.refresh(old)

    assert reuse.status_code == 400
    assert not active(rp, lost["refresh_token"])
    assert len(events(app, "refresh_token.reused")) == 1


def test_a_revoked_refresh_token_presented_later_is_audited_as_revoked(app, client, clock):
    rp, _, lost = rotated(app, client)
    assert rp.revoke(lost["refresh_token"], token_type_hint="refresh_token").status_code == 200
    clock.advance(seconds=1)

    response = rp.refresh(lost["refresh_token"])

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    presented = events(app, "refresh_token.revoked_presented")
    assert [(e.client_id, e.user_id is not None) for e in presented] == [("rp", True)]
    assert events(app, "refresh_token.reused") == []


def test_the_pair_a_retry_withdrew_presented_later_revokes_the_family(app, client, clock):
    """A thief rotates a stolen token first; the client's retry within the grace withdraws the
    thief's pair. Or the reverse: the thief "retries" and cuts the client off. Either way the
    withdrawn token's holder is a second holder of the grant: presenting it revokes it all."""
    rp, old, first = rotated(app, client)  # one party rotated (the answer reached it)
    clock.advance(seconds=2)
    second = rp.refresh(old).get_json()  # the other, within the grace: `first` withdrawn

    reuse = rp.refresh(first["refresh_token"])

    assert reuse.status_code == 400 and reuse.get_json()["error"] == "invalid_grant"
    assert not active(rp, second["refresh_token"]) and not active(rp, second["access_token"])
    assert [e.client_id for e in events(app, "refresh_token.reused")] == ["rp"]
    assert events(app, "refresh_token.revoked_presented") == []
