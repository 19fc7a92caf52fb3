"""Global branding (IDP_LOGO_FILE, IDP_PRIMARY_COLOR, IDP_SUPPORT_*), its checks, and the CLI."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from idp import mail
from idp.config import ConfigError, load_settings
from idp.manage import client_logos
from tests.support import deliver_mail, make_client
from tests.web.test_branding import RED, logo_src, serve, sign_in_page


@pytest.fixture(scope="module")
def logo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("branding") / "logo.png"
    path.write_bytes(RED)
    return path


@pytest.fixture
def overrides(logo_file: Path) -> dict[str, object]:
    return {
        "logo_file": str(logo_file),
        "primary_color": "#7b1fa2",
        "product_name": "Insurer Sign-in",
        "support_email": "desk@insurer.test",
        "support_phone": "+1 555 0199",
        "support_url": "https://insurer.test/help",
    }


def test_account_pages_and_unbranded_clients_show_the_global_branding(app, client):
    make_client(app, "plain")
    for page in (client.get("/help").text, sign_in_page(app, "plain")[0]):
        src = logo_src(page)
        assert src and src.startswith("/branding/_/logo?v=")
        assert "/branding/theme/7b1fa2.css" in page
        assert "Insurer Sign-in" in page
    logo = client.get(logo_src(client.get("/help").text))
    assert logo.data == RED and logo.headers["X-Content-Type-Options"] == "nosniff"
    help_page = client.get("/help").text
    assert 'href="mailto:desk@insurer.test"' in help_page
    assert 'href="tel:+15550199"' in help_page
    assert 'href="https://insurer.test/help"' in help_page


def test_a_client_with_its_own_colour_keeps_the_global_logo_and_contact(app):
    make_client(app, "acme", brand_color="#004d40")
    page, _ = sign_in_page(app, "acme")
    assert "/branding/theme/004d40.css" in page
    assert logo_src(page).startswith("/branding/_/logo?v=")


def test_mail_outside_a_sign_in_carries_the_global_logo_inline(app):
    with app.test_request_context():
        mail.send("ada@insurer.test", "password_changed")
    deliver_mail(app)
    [raw] = sorted(Path(app.extensions["idp.settings"].outbox_dir).glob("*.eml"))
    message = mail.parse(raw.read_bytes())
    text = mail.text_of(message)
    assert "Help desk: desk@insurer.test · +1 555 0199 · https://insurer.test/help" in text
    assert text.rstrip().endswith("The Insurer Sign-in team")
    [image] = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert image.get_content() == RED and image["Content-ID"] == "<logo@idp>"
    html = message.get_body(preferencelist=("html",)).get_content()
    assert 'src="cid:logo@idp"' in html and "#7b1fa2" in html


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("primary_color", "blue", "IDP_PRIMARY_COLOR"),
        ("primary_color", "#ABCDEF", "lower case"),
        ("logo_file", __file__, "PNG, JPEG or WebP"),
        ("logo_file", "/no/such/logo.png", "no such file"),
        ("support_email", "support", "IDP_SUPPORT_EMAIL"),
        ("support_url", "http://insurer.test/help", "https"),
        ("logo_fetch_unsafe", True, "only outside production"),
    ],
)
def test_bad_branding_settings_stop_the_start(tmp_path, setting, value, message):
    overrides = {"instance_dir": str(tmp_path), "secret_key": "k", setting: value}
    with pytest.raises(ConfigError, match=message):
        load_settings(overrides, environ={})


def test_the_cli_sets_a_logo_file_colour_and_contact(app, idp_cli, tmp_path):
    make_client(app, "acme")
    logo = tmp_path / "acme.png"
    logo.write_bytes(RED)
    idp_cli(
        "client",
        "update",
        "acme",
        "--logo-file",
        str(logo),
        "--brand-color",
        "#00695C",
        "--support-email",
        "help@acme.test",
        "--support-phone",
        "+1 (555) 0101",
    )
    shown = json.loads(idp_cli("client", "show", "acme"))
    assert shown["brand_color"] == "#00695c" and shown["support_email"] == "help@acme.test"
    assert shown["logo_url"].startswith("http://localhost/branding/acme/logo?v=")
    page, _ = sign_in_page(app, "acme")
    assert logo_src(page).startswith("/branding/acme/logo?v=")
    logo.write_bytes(b"GIF89a not accepted")
    out = idp_cli("client", "update", "acme", "--logo-file", str(logo), ok=False)
    assert "PNG, JPEG or WebP" in out
    out = idp_cli("client", "update", "acme", "--brand-color", "teal", ok=False)
    assert "Primary colour must be a colour like #0b57d0" in out


@pytest.fixture
def idp_cli(app):
    runner = app.test_cli_runner()

    def run(*args: str, ok: bool = True) -> str:
        result = runner.invoke(args=list(args))
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    return run


def test_a_logo_server_that_hangs_is_given_up_on():
    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(3)

        def log_message(self, *args: object) -> None:
            pass

    server = serve(Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(client_logos.LogoRefused, match="could not be fetched"):
            client_logos.fetch(
                f"http://127.0.0.1:{server.server_address[1]}/logo.png", unsafe=True, timeout=0.5
            )
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 2.5


def test_a_logo_server_that_trickles_is_cut_off_at_the_deadline():
    """Headers at once, then a byte now and then: each read is short, the whole fetch is not."""

    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", "40")
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b"\x89")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass  # the fetch hung up, as it should

        def log_message(self, *args: object) -> None:
            pass

    server = serve(Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(client_logos.LogoRefused):
            client_logos.fetch(
                f"http://127.0.0.1:{server.server_address[1]}/logo.png", unsafe=True, timeout=0.5
            )
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 2.0, "cut off at the deadline, not after 4 s of bytes"
