"""The passkey offer's rule, table-tested without HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from idp.authn.factors import Factor
from idp.authn.policy import passkey_offer_due

NOW = datetime(2026, 11, 30, 12, 0)
BASE = {
    "used": Factor.TOTP,
    "enrolled": frozenset({Factor.TOTP, Factor.RECOVERY_CODE}),
    "offer_on": True,
    "prompt_none": False,
    "declined": False,
    "snoozed_until": None,
    "now": NOW,
}


@pytest.mark.parametrize(
    ("change", "due"),
    [
        ({}, True),
        ({"used": Factor.EMAIL_CODE}, True),
        ({"used": Factor.RECOVERY_CODE}, True),
        ({"used": Factor.WEBAUTHN}, False),
        ({"used": Factor.PASSWORD}, False),
        ({"enrolled": frozenset({Factor.TOTP, Factor.WEBAUTHN})}, False),
        ({"offer_on": False}, False),
        ({"prompt_none": True}, False),
        ({"declined": True}, False),
        ({"snoozed_until": NOW + timedelta(days=1)}, False),
        ({"snoozed_until": NOW}, True),
        ({"snoozed_until": NOW - timedelta(days=1)}, True),
    ],
)
def test_passkey_offer_due(change, due):
    assert passkey_offer_due(**{**BASE, **change}) is due
