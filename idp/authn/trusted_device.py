"""Trusted devices (DESIGN.md): absolute trust per (user, client, device), revoked on events."""

from __future__ import annotations

from datetime import datetime, timedelta

from idp import audit
from idp.authn.state import TrustedDeviceState
from idp.database import commit_unless_in_request
from idp.extensions import db
from idp.models.client import Client
from idp.models.hashing import matches, sha256_hex
from idp.models.trusted_device import TrustedDevice

_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def agent_summary(user_agent: str) -> str:
    """'Chrome on Windows': coarse on purpose, so browser updates keep matching."""
    browser = next((name for key, name in _BROWSERS if key in user_agent), "Unknown browser")
    system = next((name for key, name in _SYSTEMS if key in user_agent), "unknown system")
    return f"{browser} on {system}"


def find(
    user_id: int, client_id: str, device_token: str | None, *, at: datetime
) -> TrustedDevice | None:
    """The live trust record for this browser's device cookie, if any."""
    if not device_token:
        return None
    return TrustedDevice.live(user_id, client_id, sha256_hex(device_token), at)


def as_state(record: TrustedDevice | None, *, agent: str) -> TrustedDeviceState | None:
    """The record as the policy sees it; a different browser/OS suggests a copied cookie."""
    if record is None:
        return None
    return TrustedDeviceState(
        created_at=record.created_at,
        expires_at=record.expires_at,
        last_verified_at=record.last_verified_at,
        agent_matches=record.agent == agent,
    )


def after_challenge(
    user_id: int,
    client_id: str,
    device_token: str,
    *,
    remember: bool,
    days: int,
    agent: str,
    ip: str,
    at: datetime,
) -> TrustedDevice | None:
    """A second factor was just verified: re-verify live trust, or trust anew if asked."""
    record = find(user_id, client_id, device_token, at=at)
    if record is not None and record.agent == agent:
        # Periodic re-verification keeps the trust but never moves its end (DESIGN.md).
        record.last_verified_at = at
        commit_unless_in_request()
        return record
    if not remember:
        return record
    if record is not None:
        record.revoked_at, record.revoked_reason = at, "replaced"
    record = TrustedDevice(
        user_id=user_id,
        client_id=client_id,
        device_hash=sha256_hex(device_token),
        agent=agent[:80],
        ip=ip[:64],
        created_at=at,
        expires_at=at + timedelta(days=days),
        last_verified_at=at,
        last_used_at=at,
    )
    db.session.add(record)
    db.session.flush()
    audit.record(
        "trusted_device.created",
        user_id=user_id,
        client_id=client_id,
        commit=False,
        device_id=record.id,
        expires_at=record.expires_at.isoformat(),
    )
    commit_unless_in_request()  # the trust and its audit event, together
    return record


def used(record: TrustedDevice, *, at: datetime) -> None:
    """The device skipped a challenge: audited like a passed one (DESIGN.md rule 5); note when.

    Using it does not extend the trust.
    """
    audit.record(
        "second_factor.skipped_trusted_device",
        user_id=record.user_id,
        client_id=record.client_id,
        commit=False,
        device_id=record.id,
    )
    record.last_used_at = at
    commit_unless_in_request()  # with the audit event


def note_agent_mismatch(record: TrustedDevice, *, agent: str) -> None:
    """Trust met in another browser or OS than it was given to: likely a copied device cookie."""
    audit.record(
        "trusted_device.agent_mismatch",
        user_id=record.user_id,
        client_id=record.client_id,
        device_id=record.id,
        trusted_agent=record.agent,
        agent=agent,
    )


def revoke_user(user_id: int, *, at: datetime, reason: str) -> int:
    """End all of a user's trusted devices (password change, factor reset, sign out everywhere)."""
    count = TrustedDevice.revoke_where(TrustedDevice.user_id == user_id, at=at, reason=reason)
    commit_unless_in_request()
    return count


def forget(user_id: int, device_id: int, *, at: datetime) -> bool:
    """The user's "forget this device"; False if it isn't theirs."""
    count = TrustedDevice.revoke_where(
        TrustedDevice.user_id == user_id, TrustedDevice.id == device_id, at=at, reason="forgotten"
    )
    if count == 1:
        audit.record("trusted_device.forgotten", user_id=user_id, commit=False, device_id=device_id)
    commit_unless_in_request()
    return count == 1


def forget_all(user_id: int, *, at: datetime) -> int:
    """The user's "forget all devices"; how many were trusted."""
    count = TrustedDevice.revoke_where(TrustedDevice.user_id == user_id, at=at, reason="forgotten")
    audit.record("trusted_device.forgotten_all", user_id=user_id, commit=False, count=count)
    commit_unless_in_request()
    return count


def devices_by_client(user_id: int, *, at: datetime) -> dict[str, list[TrustedDevice]]:
    """The user's live trusted devices grouped by client name, for the account page."""
    grouped: dict[str, list[TrustedDevice]] = {}
    for record in TrustedDevice.of_user(user_id, at):
        client = Client.by_client_id(record.client_id)
        grouped.setdefault(client.name if client else record.client_id, []).append(record)
    return grouped


def known_browser(
    user_id: int,
    device_token: str | None,
    *,
    at: datetime,
    agent: str,
    trusted_before: datetime | None = None,
) -> bool:
    """True if this browser is a live trusted device of the user, for any client, seen in the
    browser and OS it was trusted in (`agent`: a copied cookie elsewhere is not it); with
    `trusted_before`, only trust made before then counts (not the sign-in's own checkbox)."""
    if not device_token:
        return False
    return any(
        matches(device_token, d.device_hash)
        and d.agent == agent
        and (trusted_before is None or d.created_at < trusted_before)
        for d in TrustedDevice.of_user(user_id, at)
    )
