"""OpenID Connect Front-Channel Logout 1.0: the iframes the signed-out page renders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri

from idp.authn.session_end import EndedFor


@dataclass(frozen=True, slots=True)
class Frame:
    """One client's front-channel logout URL and the origin the page's CSP must allow."""

    client_name: str
    url: str
    origin: str


def frames(ended: Iterable[EndedFor], *, issuer: str) -> list[Frame]:
    """An iframe per client of the ended session that registered a frontchannel_logout_uri.

    Section 2: `iss` and `sid` are always added (whether or not the client asked for them
    with frontchannel_logout_session_required), so the RP can tell which session ended.
    """
    found: list[Frame] = []
    seen: set[str] = set()
    for item in ended:
        uri = item.client.frontchannel_logout_uri
        if not uri or item.client.client_id in seen:
            continue
        seen.add(item.client.client_id)
        parts = urlsplit(uri)
        found.append(
            Frame(
                client_name=item.client.name,
                url=add_params_to_uri(uri, {"iss": issuer, "sid": item.sid}),
                origin=f"{parts.scheme}://{parts.netloc}",
            )
        )
    return found
