"""idp/branding.py without an app: whose branding shows, and colours that stay readable."""

from __future__ import annotations

from dataclasses import replace

import pytest

from idp.branding import brand_for, check_color, contrast, global_brand, image_type
from idp.config import Settings
from idp.models.client import Client

ORG = replace(Settings(), support_email="desk@insurer.test", support_phone="+1 555 0199")


def client(**fields: object) -> Client:
    return Client(client_id="acme", name="Acme Claims", **fields)


def test_no_client_is_the_global_branding():
    brand = brand_for(None, ORG)
    assert brand == global_brand(ORG)
    assert (brand.name, brand.color, brand.logo_path) == ("Secure Sign-in", "#0b57d0", None)
    assert brand.support_line == "desk@insurer.test · +1 555 0199"


def test_a_client_without_branding_keeps_the_global_colour_and_contact_under_its_name():
    brand = brand_for(client(), ORG)
    assert brand.name == "Acme Claims" and brand.color == "#0b57d0"
    assert brand.support_email == "desk@insurer.test"


def test_a_clients_contact_replaces_the_global_one_as_a_whole():
    brand = brand_for(client(support_url="https://acme.test/help"), ORG)
    assert (brand.support_email, brand.support_phone) == ("", "")
    assert brand.support_line == "https://acme.test/help"


def test_a_clients_logo_and_colour():
    brand = brand_for(client(brand_color="#ffeb3b", logo_sha256="ab" * 32), ORG)
    assert brand.logo_path == "/branding/acme/logo?v=" + "ab" * 8
    assert brand.theme_path == "/branding/theme/ffeb3b.css"
    assert brand.on_color == "#000000" and contrast(brand.link_color, "#f4f5f7") >= 4.5


def test_no_contact_at_all_says_so():
    brand = global_brand(Settings())
    assert not brand.has_support and brand.support_line == ""


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0....", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"GIF89a", None),
        (b"", None),
    ],
)
def test_images_are_known_by_their_magic_bytes(data, kind):
    assert image_type(data) == kind


@pytest.mark.parametrize("text", ["#0b57d0", "#FFFFFF"])
def test_colours_are_hex(text):
    assert check_color(text) is None


@pytest.mark.parametrize("text", ["blue", "#fff", "#12345g", "#1234567", "rgb(0,0,0)"])
def test_other_colours_are_refused(text):
    assert check_color(text)
