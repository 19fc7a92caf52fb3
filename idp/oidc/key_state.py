"""What ``state.json`` says about keys: timestamps, and which key signs for an algorithm."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any


def stamp(at: datetime) -> str:
    """ISO 8601 with an explicit UTC offset; a naive ``at`` is taken to be UTC."""
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).isoformat()


def naive_utc(text: str) -> datetime:
    """A stamp read back as naive UTC, like idp.clock.now()."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)


def activated_at(meta: dict[str, Any]) -> datetime | None:
    """When the key first signed; keys from before staging existed signed from creation."""
    at = meta.get("activated_at", meta["created_at"])
    return None if at is None else naive_utc(at)


def signing_kids(
    state: dict[str, Any], loaded: Collection[str], algorithms: Iterable[str]
) -> tuple[dict[str, str], list[str]]:
    """alg -> kid that signs, and why any is a fallback.

    The active key signs; while its file cannot be loaded, the key that signed most recently
    before it does, so tokens keep being issued. A staged key never signs unless activated.
    """
    signing: dict[str, str] = {}
    fallbacks = []
    for alg in algorithms:
        kid = state["active"].get(alg)
        if kid in loaded:
            signing[alg] = kid
            continue
        earlier = [
            (at, k)
            for k, meta in state["keys"].items()
            if k in loaded and meta["alg"] == alg and (at := activated_at(meta)) is not None
        ]
        if earlier:
            signing[alg] = max(earlier)[1]
            if kid is not None:
                fallbacks.append(f"{alg} key {kid} unusable: signing with {signing[alg]}")
    return signing, fallbacks
