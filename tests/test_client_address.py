"""Which client an address counts as: IPv4 per address, IPv6 per /64."""

from __future__ import annotations

import pytest

from idp.client_address import address_bucket


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.2", "192.0.2.2"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:0:0:0:abcd", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::/64"),
        ("", ""),
        ("unix:/run/idp.sock", "unix:/run/idp.sock"),
    ],
)
def test_address_bucket(address: str, bucket: str) -> None:
    assert address_bucket(address) == bucket


def test_recent_addresses_are_kept_but_never_a_long_string() -> None:
    """Token requests ask for the bucket every time: a real address is kept (bounded), what a
    misconfigured proxy chain lets a client write at any length is answered and not kept."""
    from idp import client_address

    client_address._recent_bucket.cache_clear()
    assert address_bucket("2001:db8:9:9::1") == "2001:db8:9:9::/64"
    assert address_bucket("2001:db8:9:9::1") == "2001:db8:9:9::/64"
    assert client_address._recent_bucket.cache_info().hits == 1
    long = "x" * 5000
    assert address_bucket(long) == long
    assert client_address._recent_bucket.cache_info().currsize == 1
