"""Which client an address stands for when counting: IPv4 per address, IPv6 per /64.

Rate limits, the password throttle's per-source counters and the bound on unfinished sign-ins
all count per client. An IPv6 host is usually given a whole /64 (RFC 4291 2.5.4, RFC 7421) and
may pick any address in it at will, so counting per address would give it 2**64 buckets.
"""

from __future__ import annotations

import functools
import ipaddress

from flask import has_request_context, request

IPV6_PREFIX = 64


# Longer than any address with a zone id: what a misconfigured proxy chain lets a client write
# is never kept.
CACHED_LENGTH = 64


def address_bucket(address: str) -> str:
    """The bucket `address` counts in: an IPv4 address itself (IPv4-mapped IPv6 too), an IPv6
    address's /64 network (e.g. `2001:db8:1:2::/64`); anything else unchanged."""
    if len(address) > CACHED_LENGTH:
        return _bucket(address)
    return _recent_bucket(address)


def _bucket(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])  # no zone id (fe80::1%eth0)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)  # ::ffff:192.0.2.1 is 192.0.2.1 (a dual-stack socket)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


# Asked on every token request: the recent answers are kept (bounded, so a host varying its
# address only evicts them).
_recent_bucket = functools.lru_cache(maxsize=4096)(_bucket)


def client_bucket() -> str:
    """The bucket of the current request's client address (after ProxyFix, the real client)."""
    if not has_request_context():
        return ""
    return address_bucket(request.remote_addr or "")
