"""Where you're signed in, placed: with IDP_GEOIP_DATABASE set the account and admin pages name
each session's city and country (a local MaxMind database), otherwise they show the IP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from idp import create_app
from idp.config import ConfigError, load_settings
from idp.geoip import Places
from tests.support import enroll_totp, make_user
from tests.web.test_admin_helpers import admin_token, sign_in, signed_in_admin

SPRINGFIELD = {
    "city": {"names": {"en": "Springfield"}},
    "country": {"names": {"en": "United States", "es": "Estados Unidos"}},
}
GERMANY = {"country": {"names": {"en": "Germany", "es": "Alemania"}}}


@pytest.fixture(scope="session")
def geoip_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GeoLite2-City-shaped database: the test client's 127.0.0.0/8 is in Springfield."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(IPSet(["127.0.0.0/8"]), SPRINGFIELD)
    writer.insert_network(IPSet(["192.0.2.0/24"]), GERMANY)  # country only
    path = tmp_path_factory.mktemp("geoip") / "GeoLite2-City.mmdb"
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def overrides(request: pytest.FixtureRequest, geoip_database: Path) -> dict[str, Any]:
    """No settings changed, unless the test is parametrized with "geoip": the database set."""
    if getattr(request, "param", None) == "geoip":
        return {"geoip_database": str(geoip_database)}
    return {}


def session_cells(html: str) -> list[str]:
    return re.findall(r'<tr data-sid="[^"]+">(.*?)</tr>', html, re.S)


@pytest.mark.parametrize("overrides", ["geoip"], indirect=True)
def test_the_account_page_names_the_place_of_each_session(app: Flask) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    browser = app.test_client()
    sign_in(browser, "ada@example.com", secret)

    [row] = session_cells(browser.get("/account/security").text)

    assert "Springfield, United States (127.0.0.1)" in row


@pytest.mark.parametrize("overrides", ["geoip"], indirect=True)
def test_the_place_speaks_the_pages_language(app: Flask) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    sign_in(browser, "ada@example.com", secret)

    [row] = session_cells(browser.get("/account/security").text)

    assert "Springfield, Estados Unidos (127.0.0.1)" in row  # no Spanish city name: English


@pytest.mark.parametrize("overrides", ["geoip"], indirect=True)
def test_the_admin_sees_the_place_too(app: Flask) -> None:
    admin_browser = app.test_client()
    signed_in_admin(app, admin_browser)
    user = make_user(app, "bob@example.com", name="Bob Baker")
    secret = enroll_totp(app, user.id)
    sign_in(app.test_client(), "bob@example.com", secret)

    [row] = session_cells(admin_browser.get(f"/admin/users/{user.subject}").text)
    token = admin_token(app, app.test_client())
    api = app.test_client().get(
        f"/admin/api/v1/users/{user.subject}", headers={"Authorization": f"Bearer {token}"}
    )

    assert "Springfield, United States (127.0.0.1)" in row
    [session] = api.get_json()["sessions"]
    assert (session["ip"], session["place"]) == ("127.0.0.1", "Springfield, United States")


@pytest.mark.parametrize("overrides", ["geoip"], indirect=True)
def test_the_admin_sees_the_place_in_the_consoles_language(app: Flask) -> None:
    admin_browser = app.test_client()
    signed_in_admin(app, admin_browser)
    admin_browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    user = make_user(app, "bob@example.com", name="Bob Baker")
    sign_in(app.test_client(), "bob@example.com", enroll_totp(app, user.id))

    [row] = session_cells(admin_browser.get(f"/admin/users/{user.subject}").text)

    assert "Springfield, Estados Unidos (127.0.0.1)" in row


def test_without_a_database_the_ip_is_shown(app: Flask) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    browser = app.test_client()
    sign_in(browser, "ada@example.com", secret)

    [row] = session_cells(browser.get("/account/security").text)

    assert '<span class="muted">127.0.0.1</span>' in row
    assert "Springfield" not in row


def test_lookups_never_raise(geoip_database: Path) -> None:
    places = Places.open(str(geoip_database))
    assert places.place_of("127.0.0.1") == "Springfield, United States"
    assert places.place_of("192.0.2.7", language="es") == "Alemania"  # country only
    assert places.place_of("10.1.2.3") is None  # not in the database (private)
    assert places.place_of("2001:db8::1") is None
    assert places.place_of("") is None
    assert places.place_of("not an address") is None
    assert Places().place_of("127.0.0.1") is None  # none configured


def test_a_missing_database_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IDP_GEOIP_DATABASE"):
        load_settings(
            {"instance_dir": str(tmp_path), "geoip_database": str(tmp_path / "none.mmdb")},
            environ={},
        )


def test_a_file_that_is_no_database_stops_the_start(tmp_path: Path) -> None:
    bogus = tmp_path / "GeoLite2-City.mmdb"
    bogus.write_bytes(b"not a MaxMind database")
    with pytest.raises(ConfigError, match="not a MaxMind DB file"):
        create_app({"instance_dir": str(tmp_path), "geoip_database": str(bogus)})
