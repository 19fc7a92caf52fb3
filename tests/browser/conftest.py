"""A live server on http://localhost:PORT and headless Debian Chromium with a virtual authenticator.

Chromium refuses WebAuthn on IP origins, hence `localhost`. The browser is the system one
(/usr/bin/chromium, installed by `make browser`); no test tool downloads a browser.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from idp import create_app
from idp.extensions import db
from tests.conftest import _empty_tables, base_overrides

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The RP's callback: a path on the live server nobody serves (the browser just lands there),
# since Playwright's routing doesn't see redirects to other hosts.
RP_CALLBACK_PATH = "/rp-callback"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_app(_environment: dict[str, Any], tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """The app served for real on localhost, its issuer matching the browser's origin."""
    port = _free_port()
    issuer = f"http://localhost:{port}"
    settings = base_overrides(tmp_path, _environment["url"], _environment["keys_dir"])
    settings["issuer"] = issuer
    app = create_app(settings)
    with app.app_context():
        _empty_tables()
    server = make_server("localhost", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, issuer
    server.shutdown()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the run."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-gpu",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


class Browser:
    """One browser profile with a CTAP2 virtual authenticator (resident keys, UV)."""

    def __init__(self, chromium: Any) -> None:
        self.context = chromium.new_context()
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable")
        self.authenticator_id = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        """The virtual authenticator's credentials (ids in standard base64 with padding)."""
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})[
            "credentials"
        ]

    def replace_credential(self, credential: dict[str, Any]) -> None:
        """Remove a credential and add it back as given (e.g. with a lower signCount)."""
        self.cdp.send(
            "WebAuthn.removeCredential",
            {
                "authenticatorId": self.authenticator_id,
                "credentialId": credential["credentialId"],
            },
        )
        self.cdp.send(
            "WebAuthn.addCredential",
            {
                "authenticatorId": self.authenticator_id,
                "credential": credential,
            },
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def browser(chromium: Any) -> Iterator[Browser]:
    """A fresh browser profile with its authenticator."""
    b = Browser(chromium)
    yield b
    b.close()
