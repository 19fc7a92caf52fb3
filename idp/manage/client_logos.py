"""Client logos: uploaded, or fetched once from an https URL, checked, stored and served by us.

A logo URL is fetched when an admin saves it, never by browsers (no hot-linking: the user's
browser only ever talks to us). The fetch is a server-side request an admin aims, so it is
fenced like one (OWASP SSRF cheat sheet): https only, no credentials in the URL, every address
the name resolves to must be public, the connection goes to the address that was checked (no
DNS rebinding between check and use), no redirects, a timeout, and at most MAX_LOGO_BYTES.
The bytes must be PNG, JPEG or WebP by their magic numbers, whatever the server claims.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urlsplit

from flask_babel import gettext as _

from idp.branding import MAX_LOGO_BYTES, image_type
from idp.clock import now
from idp.extensions import db
from idp.manage.errors import FieldError, Invalid, ManageError
from idp.models.client import Client
from idp.models.client_logo import ClientLogo

USER_AGENT = "idp-logo-fetch/1"


class LogoRefused(ManageError):
    """Why a logo (its URL or its bytes) was not accepted; the message is for the admin."""

    code = "logo_refused"
    status = 422
    title = "Logo refused"


def check_image(data: bytes) -> str:
    """The content type of an acceptable logo; LogoRefused otherwise."""
    if not data:
        raise LogoRefused(_("the file is empty"))
    if len(data) > MAX_LOGO_BYTES:
        raise LogoRefused(_("is larger than 256 KiB"))
    kind = image_type(data)
    if kind is None:
        raise LogoRefused(_("must be a PNG, JPEG or WebP image"))
    return kind


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def fetch(url: str, *, unsafe: bool = False, timeout: float = 5.0) -> bytes:
    """GET the image at `url` as described in the module docstring; LogoRefused if not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise LogoRefused(_("is not a valid URL")) from exc
    schemes = ("https", "http") if unsafe else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise LogoRefused(_("must be an https URL"))
    if parts.username is not None or parts.password is not None:
        raise LogoRefused(_("must not contain a user name or password"))
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + timeout
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise LogoRefused(_("its host name does not resolve")) from exc
    addresses = [str(info[4][0]) for info in infos]
    if not unsafe and not all(_public(a) for a in addresses):
        raise LogoRefused(_("points to a private or local address"))
    target = url[len(f"{parts.scheme}://{parts.netloc}") :] or "/"
    try:
        sock = socket.create_connection((addresses[0], port), timeout=timeout)
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            context = ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=host)
            connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.sock = sock  # already connected to the checked address
        connection.request("GET", target, headers={"User-Agent": USER_AGENT, "Accept": "image/*"})
        response = connection.getresponse()
        if response.status != 200:
            raise LogoRefused(
                _("answered HTTP %(status)s (redirects are not followed)", status=response.status)
            )
        data = b""
        while len(data) <= MAX_LOGO_BYTES:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LogoRefused(_("took too long to answer"))
            sock.settimeout(left)
            chunk = response.read1(65536)  # one receive at a time: a trickle hits the deadline
            if not chunk:
                break
            data += chunk
        connection.close()
    except (OSError, http.client.HTTPException) as exc:
        raise LogoRefused(_("could not be fetched (%(why)s)", why=type(exc).__name__)) from exc
    check_image(data)
    return data


def store(client: Client, data: bytes) -> None:
    """Keep `data` (already checked) as the client's logo, in the caller's transaction."""
    kind = check_image(data)
    digest = hashlib.sha256(data).hexdigest()
    row = db.session.get(ClientLogo, client.client_id)
    if row is None:
        row = ClientLogo(client_id=client.client_id)
        db.session.add(row)
    row.content_type, row.data, row.sha256, row.updated_at = kind, data, digest, now()
    client.logo_sha256 = digest  # versions the URL and moves the client cache


def drop(client: Client) -> None:
    """Forget the client's logo, in the caller's transaction."""
    row = db.session.get(ClientLogo, client.client_id)
    if row is not None:
        db.session.delete(row)
    client.logo_sha256 = None


def find(client_id: str) -> ClientLogo | None:
    """The stored logo of a client, if any."""
    if not 0 < len(client_id) <= 64:
        return None
    return db.session.get(ClientLogo, client_id)


def refused(field: str, exc: LogoRefused) -> Invalid:
    """A refused logo as the admin surfaces report bad input."""
    return Invalid(_("The logo was not accepted."), [FieldError(field, str(exc))])
