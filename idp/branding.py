"""Branding: whose name, logo, colour and support contact a page or an email shows.

A sign-in for a client shows that client's branding where the admin set it, the global
branding (IDP_PRODUCT_NAME, IDP_LOGO_FILE, IDP_PRIMARY_COLOR, IDP_SUPPORT_*) otherwise; the
account pages, after the sign-in, show the global branding. Logos are always served from our
own origin (never hot-linked) and colours come from a stylesheet of ours, so the CSP's
`style-src 'self'` and `img-src 'self'` hold.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idp.config import Settings
    from idp.models.client import Client

MAX_LOGO_BYTES = 256 * 1024
HEX_COLOR = re.compile(r"#[0-9a-f]{6}")
DEFAULT_COLOR = "#0b57d0"
LIGHT_TEXT, DARK_TEXT = "#ffffff", "#000000"
PAGE_BACKGROUND = "#f4f5f7"  # static/idp.css --bg: links sit on it in the footer
AA_CONTRAST = 4.5  # WCAG 2.1 1.4.3, normal text


@dataclass(frozen=True, slots=True)
class Brand:
    """What one page or email shows: names, colours, logo and support contact."""

    product_name: str
    client_name: str | None
    logo_client_id: str | None  # whose stored logo shows; None: the global logo (if any)
    color: str
    logo_version: str | None  # SHA-256 prefix of the logo, or None for no logo
    support_email: str
    support_phone: str
    support_url: str

    @property
    def name(self) -> str:
        """The name people should recognise: the app's, else the product's."""
        return self.client_name or self.product_name

    @property
    def on_color(self) -> str:
        """Text colour on the primary colour (buttons): the one with more contrast."""
        return text_on(self.color)

    @property
    def link_color(self) -> str:
        """The primary colour, darkened until it reads as text on the page (links)."""
        return readable_on(self.color, PAGE_BACKGROUND)

    @property
    def has_support(self) -> bool:
        """True when some support contact is configured (else: "your help desk", no address)."""
        return bool(self.support_email or self.support_phone or self.support_url)

    @property
    def support_line(self) -> str:
        """The contact as one line of text: email, phone, web page."""
        parts = (self.support_email, self.support_phone, self.support_url)
        return " · ".join(p for p in parts if p)

    @property
    def theme_path(self) -> str:
        """Path of the stylesheet with this brand's colours (one per colour, cacheable)."""
        return f"/branding/theme/{self.color.removeprefix('#')}.css"

    @property
    def logo_path(self) -> str | None:
        """Path of the logo on our own origin, versioned by its hash; None without a logo."""
        if self.logo_version is None:
            return None
        owner = self.logo_client_id or "_"
        return f"/branding/{owner}/logo?v={self.logo_version}"


def global_brand(settings: Settings) -> Brand:
    """The organisation's branding: account pages, and sign-ins of unbranded clients."""
    logo = global_logo(settings)
    return Brand(
        product_name=settings.product_name,
        client_name=None,
        logo_client_id=None,
        color=settings.primary_color,
        logo_version=_global_versions.get(settings.logo_file) if logo else None,
        support_email=settings.support_email,
        support_phone=settings.support_phone,
        support_url=settings.support_url,
    )


def brand_for(client: Client | None, settings: Settings) -> Brand:
    """A client's branding over the global one; without a client, the global one."""
    base = global_brand(settings)
    if client is None:
        return base
    own_contact = bool(client.support_email or client.support_phone or client.support_url)
    return Brand(
        product_name=base.product_name,
        client_name=client.name,
        logo_client_id=client.client_id if client.logo_sha256 else None,
        color=client.brand_color or base.color,
        logo_version=client.logo_sha256[:16] if client.logo_sha256 else base.logo_version,
        # The client's contact as a whole, or the organisation's: never a mix of the two.
        support_email=(client.support_email or "") if own_contact else base.support_email,
        support_phone=(client.support_phone or "") if own_contact else base.support_phone,
        support_url=(client.support_url or "") if own_contact else base.support_url,
    )


_global_logos: dict[str, tuple[bytes, str] | None] = {}
_global_versions: dict[str, str] = {}


def global_logo(settings: Settings) -> tuple[bytes, str] | None:
    """IDP_LOGO_FILE's bytes and content type (read once per process), or None."""
    path = settings.logo_file
    if not path:
        return None
    if path not in _global_logos:
        data = Path(path).read_bytes()
        kind = image_type(data)
        _global_logos[path] = (data, kind) if kind and len(data) <= MAX_LOGO_BYTES else None
        _global_versions[path] = hashlib.sha256(data).hexdigest()[:16]
    return _global_logos[path]


def image_type(data: bytes) -> str | None:
    """The content type of a PNG, JPEG or WebP image by its magic bytes; None for others.

    SVG is refused on purpose: it can carry scripts, and checking that it doesn't is harder
    than converting it to PNG before uploading.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_color(text: str) -> str | None:
    """Why a colour is refused, or None: #rrggbb (lower case once normalised)."""
    if not HEX_COLOR.fullmatch(text.lower()):
        return "must be a colour like #0b57d0"
    return None


def _luminance(color: str) -> float:
    # WCAG 2.1 relative luminance.
    channels = []
    for i in (1, 3, 5):
        c = int(color[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two #rrggbb colours, 1 to 21."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(color: str) -> str:
    """White or near-black text, whichever reads better on `color` (always >= 4.5:1)."""
    if contrast(color, LIGHT_TEXT) >= contrast(color, DARK_TEXT):
        return LIGHT_TEXT
    return DARK_TEXT


def readable_on(color: str, background: str) -> str:
    """`color`, darkened just enough to reach AA contrast as text on `background`."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    for _ in range(40):
        candidate = f"#{r:02x}{g:02x}{b:02x}"
        if contrast(candidate, background) >= AA_CONTRAST:
            return candidate
        r, g, b = (int(v * 0.9) for v in (r, g, b))
    return DARK_TEXT
