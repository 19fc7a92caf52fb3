"""Branding per client and global: logos served from our origin, colours, support, HTML mail."""

from __future__ import annotations

import io
import random
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from email.message import EmailMessage
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask

from idp.branding import contrast, readable_on, text_on
from idp.mail import parse
from idp.manage import client_logos
from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    deliver_mail,
    key_on_page,
    make_client,
    make_user,
    totp_now,
)
from tests.web.test_admin_helpers import admin_token, post_form, signed_in_admin

ACME_SUPPORT = "claims-help@acme.example"


def png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real, tiny PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


RED, BLUE = png(rgb=(200, 30, 30)), png(rgb=(30, 30, 200))


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A local HTTP server on a free port below 32768 (clear of the ephemeral range)."""
    for _ in range(50):
        try:
            return ThreadingHTTPServer(("127.0.0.1", random.randint(20000, 32000)), handler)
        except OSError:
            continue
    raise RuntimeError("no free port")


class ImageHost:
    """A web server of a client's (on 127.0.0.1, a port below 32768) serving files by path."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.hits: list[str] = []
        files, hits = self.files, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                data, kind = files.get(self.path, (b"not found", "text/plain"))
                self.send_response(200 if self.path in files else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = serve(Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    yield host
    host.server.shutdown()
    host.server.server_close()


@pytest.fixture
def overrides() -> dict[str, object]:
    # Tests fetch from a local http server: the production rules (https, public addresses
    # only) are lifted here and tested on fetch() itself below.
    return {"logo_fetch_unsafe": True, "support_email": "help@insurer.example"}


def sign_in_page(app: Flask, client_id: str) -> tuple[str, object]:
    """The first sign-in page a browser sees for `client_id`'s request, and the browser."""
    browser = app.test_client()
    flow = SignInFlow(browser, RelyingParty(browser, client_id=client_id))
    flow.start()
    page = flow.follow()
    assert page.status_code == 200
    return page.text, (browser, flow)


def logo_src(page: str) -> str | None:
    match = re.search(r'<p class="brand-logo"><img src="([^"]+)"', page)
    return match.group(1) if match else None


def theme_href(page: str) -> str:
    match = re.search(r'<link rel="stylesheet" href="(/branding/theme/[0-9a-f]{6}\.css)">', page)
    assert match, "no theme stylesheet"
    return match.group(1)


# --- the admin sets a client's branding; its sign-in shows it, another client's doesn't ----


def test_an_uploaded_logo_and_colour_show_on_that_clients_sign_in_only(app, client):
    signed_in_admin(app, client)
    make_client(app, "acme")
    make_client(app, "other")
    page = client.get("/admin/clients/acme")
    response = client.post(
        "/admin/clients/acme",
        data={
            "csrf_token": csrf_of(page),
            "name": "Acme Claims",
            "redirect_uris": "https://rp.example/callback",
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ["openid", "email"],
            "mfa_policy": "any",
            "remember_days": "30",
            "id_token_signed_response_alg": "RS256",
            "brand_color": "#FFEB3B",
            "support_email": ACME_SUPPORT,
            "support_phone": "+1 555 0100",
            "logo_file": (io.BytesIO(RED), "logo.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text

    page, _ = sign_in_page(app, "acme")
    src = logo_src(page)
    assert src and src.startswith("/branding/acme/logo?v="), "served from our own origin"
    assert theme_href(page) == "/branding/theme/ffeb3b.css"
    logo = client.get(src)
    assert logo.data == RED and logo.mimetype == "image/png"
    assert logo.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age" in logo.headers["Cache-Control"]
    # A yellow button gets dark text; links are darkened until they read on the page.
    css = client.get(theme_href(page)).text
    assert "--accent: #ffeb3b" in css and "--on-accent: #000000" in css
    link = re.search(r"--link: (#[0-9a-f]{6})", css).group(1)
    assert contrast(link, "#f4f5f7") >= 4.5

    other, _ = sign_in_page(app, "other")
    assert logo_src(other) is None and "acme" not in other.lower()
    assert theme_href(other) == "/branding/theme/0b57d0.css"
    # The CSP still forbids inline styles and remote images.
    csp = client.get("/signin").headers["Content-Security-Policy"]
    assert "style-src 'self';" in csp and "img-src 'self' data:;" in csp


def test_the_help_page_of_a_sign_in_shows_the_clients_support(app):
    make_client(app, "acme", support_email=ACME_SUPPORT, support_url="https://acme.example/help")
    page, (browser, _) = sign_in_page(app, "acme")
    rid = re.search(r"/help\?rid=([^\"]+)\"", page).group(1)
    help_page = browser.get(f"/help?rid={rid}").text
    assert f'href="mailto:{ACME_SUPPORT}"' in help_page
    assert 'href="https://acme.example/help"' in help_page
    assert "help@insurer.example" not in help_page, "the app's contact, not a mix"
    # The account pages (no sign-in in progress) show the organisation's.
    assert "help@insurer.example" in browser.get("/help").text


def test_a_logo_url_is_fetched_once_and_served_by_us_never_hot_linked(app, client, image_host):
    image_host.files["/brand/logo.png"] = (RED, "image/png")
    make_client(app, "acme")
    headers = {"Authorization": f"Bearer {admin_token(app, client)}"}
    answer = client.patch(
        "/admin/api/v1/clients/acme",
        json={"logo_uri": image_host.url("/brand/logo.png"), "brand_color": "#005A31"},
        headers=headers,
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["brand_color"] == "#005a31"
    assert body["logo_url"].startswith("http://localhost/branding/acme/logo?v=")
    assert image_host.hits == ["/brand/logo.png"]

    image_host.files["/brand/logo.png"] = (BLUE, "image/png")  # the client's server changes
    page, _ = sign_in_page(app, "acme")
    assert image_host.url("") not in page, "never hot-linked"
    assert client.get(logo_src(page)).data == RED, "what was fetched at save time"
    assert image_host.hits == ["/brand/logo.png"], "fetched once"
    # Saving the same URL again fetches nothing; a PATCH of other fields neither.
    client.patch("/admin/api/v1/clients/acme", json={"name": "Acme"}, headers=headers)
    assert image_host.hits == ["/brand/logo.png"]
    # Removing it: the sign-in shows no logo.
    gone = client.delete("/admin/api/v1/clients/acme/logo", headers=headers)
    assert gone.status_code == 200 and gone.get_json()["logo_url"] is None
    assert logo_src(sign_in_page(app, "acme")[0]) is None


def test_an_upload_through_the_api_is_checked_by_its_bytes(app, client):
    make_client(app, "acme")
    headers = {"Authorization": f"Bearer {admin_token(app, client)}"}
    url = "/admin/api/v1/clients/acme/logo"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = client.put(url, data=svg, headers={**headers, "Content-Type": "image/png"})
    assert (
        refused.status_code == 422
        and "PNG, JPEG or WebP" in refused.get_json()["errors"][0]["message"]
    )
    wrong_type = client.put(url, data=RED, headers={**headers, "Content-Type": "text/html"})
    assert wrong_type.status_code == 415
    ok = client.put(url, data=RED, headers={**headers, "Content-Type": "image/png"})
    assert ok.status_code == 200 and ok.get_json()["logo_url"]


@pytest.mark.parametrize(
    ("path", "content", "reason"),
    [
        ("/page.html", (b"<html><img src=x onerror=alert(1)></html>", "image/png"), "PNG, JPEG"),
        ("/huge.png", (RED + b"\0" * (300 * 1024), "image/png"), "256 KiB"),
        ("/missing.png", None, "HTTP 404"),
    ],
)
def test_a_logo_url_that_is_not_a_small_image_is_refused(
    app, client, image_host, path, content, reason
):
    if content:
        image_host.files[path] = content
    signed_in_admin(app, client)
    make_client(app, "acme")
    response = post_form(
        client,
        "/admin/clients/acme",
        {
            "name": "Acme",
            "redirect_uris": "https://rp.example/callback",
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"],
            "scopes": ["openid"],
            "mfa_policy": "any",
            "remember_days": "30",
            "id_token_signed_response_alg": "RS256",
            "logo_uri": image_host.url(path),
        },
    )
    assert response.status_code == 422 and reason in response.text
    assert client_logos_of(app, "acme") is None


def client_logos_of(app: Flask, client_id: str) -> object:
    with app.app_context():
        return client_logos.find(client_id)


def test_production_rules_https_only_and_no_private_addresses(image_host):
    image_host.files["/logo.png"] = (RED, "image/png")
    with pytest.raises(client_logos.LogoRefused, match="https"):
        client_logos.fetch(image_host.url("/logo.png"))
    for host in ("127.0.0.1", "localhost", "[::1]", "10.0.0.7", "169.254.169.254"):
        with pytest.raises(client_logos.LogoRefused, match="private or local"):
            client_logos.fetch(f"https://{host}:{image_host.port}/logo.png")
    with pytest.raises(client_logos.LogoRefused, match="user name"):
        client_logos.fetch("https://user:pw@logo.example/logo.png")
    # The test override fetches from here, and the bytes decide, not the URL.
    assert client_logos.fetch(image_host.url("/logo.png"), unsafe=True) == RED


# --- mail during that sign-in -------------------------------------------------------------


class Refs(HTMLParser):
    """Every URL an HTML part refers to, by the element and attribute it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "background", "srcset") and value:
                self.refs.append((tag, name, value))
            if name == "style" and value and "url(" in value:
                self.refs.append((tag, name, value))


def parts_of(raw: bytes) -> tuple[EmailMessage, str, str]:
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return message, text.get_content(), html.get_content()


def assert_no_remote_content(html: str) -> Refs:
    refs = Refs()
    refs.feed(html)
    assert not {"script", "link", "iframe", "object", "embed", "style"} & refs.tags
    for tag, attribute, value in refs.refs:
        if tag == "a" and attribute == "href":
            continue  # links the reader may follow (to us) are fine
        assert not re.match(r"\s*(https?:)?//", value), (tag, attribute, value)
        assert "url(" not in value, (tag, value)
    return refs


def newest_mail(app: Flask) -> bytes:
    deliver_mail(app)
    folder = Path(app.extensions["idp.settings"].outbox_dir)
    return sorted(folder.glob("*.eml"))[-1].read_bytes()


def test_mail_during_a_sign_in_is_branded_multipart_and_loads_nothing_remote(app, client):
    make_user(app)
    make_client(app, "acme", support_email=ACME_SUPPORT, brand_color="#005a31")
    headers = {"Authorization": f"Bearer {admin_token(app, client)}"}
    put = client.put(
        "/admin/api/v1/clients/acme/logo",
        data=RED,
        headers={**headers, "Content-Type": "image/png"},
    )
    assert put.status_code == 200
    page, (browser, _) = sign_in_page(app, "acme")
    forgot = re.search(r'href="(/signin/forgot\?rid=[^"]+)"', page).group(1)
    form = browser.get(forgot)
    sent = browser.post(forgot, data={"csrf_token": csrf_of(form), "email": "ada@example.com"})
    assert sent.status_code == 200

    message, text, html = parts_of(newest_mail(app))
    assert "ACME Portal" in text and ACME_SUPPORT in text
    assert "help@insurer.example" not in text
    # The same links and codes in both parts.
    text_links = re.findall(r"https?://\S+", text)
    assert text_links and all(
        link.startswith("http://localhost/signin/reset/") for link in text_links
    )
    refs = assert_no_remote_content(html)
    assert [v for t, a, v in refs.refs if t == "a"] == text_links
    assert "ACME Portal" in html and ACME_SUPPORT in html and "#005a31" in html
    # The logo travels with the mail and is referred to by cid:.
    [image] = [v for t, a, v in refs.refs if t == "img"]
    assert image == "cid:logo@idp"
    [attached] = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert attached["Content-ID"] == "<logo@idp>" and attached.get_content() == RED


def test_a_code_by_mail_says_the_same_code_in_both_parts(app):
    make_client(app, "acme", support_email=ACME_SUPPORT)
    make_user(app, activated=False)  # the first sign-in proves the mailbox with a code
    browser = app.test_client()
    flow = SignInFlow(browser, RelyingParty(browser, client_id="acme"))
    flow.start()
    flow.password()
    while not flow.location.startswith("/signin/prove-email"):
        flow.follow()
    assert browser.get(flow.location).status_code == 200
    _, text, html = parts_of(newest_mail(app))
    code = re.search(r"\b(\d{6})\b", text).group(1)
    assert re.search(rf">\s*{code}\s*</pre>", html)
    assert ACME_SUPPORT in text and ACME_SUPPORT in html
    assert_no_remote_content(html)


# --- the theme's colours ----------------------------------------------------------------


@pytest.mark.parametrize(
    "color", ["#ffffff", "#ffeb3b", "#00ff00", "#777777", "#0b57d0", "#000000"]
)
def test_text_on_any_colour_and_links_in_it_stay_readable(color):
    assert contrast(text_on(color), color) >= 4.5
    assert contrast(readable_on(color, "#f4f5f7"), "#f4f5f7") >= 4.5


def test_the_theme_is_css_for_valid_colours_only(client):
    assert client.get("/branding/theme/0b57d0.css").mimetype == "text/css"
    assert client.get("/branding/theme/red;}body{x.css").status_code == 404
    assert client.get("/branding/_/logo").status_code == 404  # no global logo configured


def test_the_new_factor_notice_of_an_enrollment_in_a_sign_in_is_branded(app, client):
    make_user(app)
    _, secret = make_client(app, "acme", support_phone="+1 555 0100")
    flow = SignInFlow(client, RelyingParty(client, client_id="acme", secret=secret))
    flow.start()
    flow.password()
    rid = flow.location.split("rid=")[1]
    url = f"/signin/enroll/totp?rid={rid}"
    page = client.get(url)
    assert "ACME Portal" in page.text
    code = totp_now(key_on_page(page), app=app)
    saved = client.post(url, data={"csrf_token": csrf_of(page), "name": "Phone", "code": code})
    assert saved.status_code == 302
    _, text, html = parts_of(newest_mail(app))
    assert "Authenticator app" in text or "Phone" in text
    for part in (text, " ".join(html.split())):
        assert "sign-in to ACME Portal" in part and "+1 555 0100" in part
        assert "help@insurer.example" not in part
    assert_no_remote_content(html)
