"""Who made an admin change, so the audit trail can say so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Actor:
    """The console's admin, the API's client, or the CLI's operator."""

    via: str  # console | api | cli
    admin_id: int | None = None
    api_client: str | None = None

    def detail(self) -> dict[str, Any]:
        """Audit detail naming the actor."""
        found: dict[str, Any] = {"via": self.via}
        if self.admin_id is not None:
            found["admin_id"] = self.admin_id
        if self.api_client is not None:
            found["api_client"] = self.api_client
        return found


CLI = Actor(via="cli")
