"""A live server on http://localhost:PORT and headless Debian Chromium with a virtual authenticator.

Chromium refuses WebAuthn on IP origins, hence `localhost`. The browser is the system one
(/usr/bin/chromium, installed by `make browser`); no test tool downloads a browser.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The RP's callback: a path on the live server nobody serves (the browser just lands there),
# since Playwright's routing doesn't see redirects to other hosts.
RP_CALLBACK_PATH = "/rp-callback"


@pytest.fixture
def live_app(live_server: LiveServer) -> tuple[Flask, str]:
    """The live server's app and its issuer (http://localhost:PORT, the browser's origin)."""
    return live_server.app, live_server.url


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

    def __init__(self, chromium: Any, **context_options: Any) -> None:
        self.context = chromium.new_context(**context_options)
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

    def without_passkey_autofill(self) -> None:
        """Pages loaded from now on see a browser without conditional mediation.

        The virtual authenticator answers a conditional request at once with its resident
        passkey (as if the user picked it), which would pre-empt a test that types a password.
        """
        self.context.add_init_script(
            "PublicKeyCredential.isConditionalMediationAvailable = async () => false;"
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def browser(chromium: Any) -> Iterator[Browser]:
    """A fresh browser profile with its authenticator."""
    b = Browser(chromium)
    yield b
    b.close()
