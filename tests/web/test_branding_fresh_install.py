"""A fresh install has no placeholder contact: pages and mails point to the organisation's help
desk without an address, and no `example.com` address appears anywhere (README and config agree).
"""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from pathlib import Path

import pytest

from idp import mail
from idp.config import Settings
from idp.mail import parse
from tests.support import RelyingParty, SignInFlow, deliver_mail, make_client

# Each mail template with the context its callers pass; recipients are not example.com here.
TEMPLATES = {
    "email_code": {"code": "042137", "minutes": 10, "purpose": "sign in"},
    "factor_added": {"method_name": "Authenticator app"},
    "factor_removed": {"method_name": "Security key"},
    "recovery_code_used": {"remaining": 0},
    "password_reset": {"link": "http://localhost/signin/reset/abc", "minutes": 30},
    "password_changed": {},
    "mfa_reset": {"name": "Ada"},
    "invitation": {"link": "http://localhost/activate/abc", "days": 7, "name": "Ada"},
    "sign_in_failures": {"what": "password", "count": 100, "capped": True},
    "password_reset_waiting": {
        "ready_at": datetime(2026, 12, 1, 10, 0),
        "hours": 24,
        "cancel_link": "http://localhost/signin/reset/cancel/abc",
    },
    "new_browser": {
        "app": "Claims",
        "agent": "Firefox on Linux",
        "ip": "203.0.113.9",
        "when": datetime(2026, 11, 30, 21, 0),
        "link": "http://localhost/account/not-me/abc",
        "hours": 72,
    },
}


@pytest.fixture
def overrides() -> dict[str, object]:
    return {"support_email": ""}  # what a fresh install has: no IDP_SUPPORT_* at all


def test_the_defaults_and_the_readme_name_no_placeholder_address():
    defaults = Settings()
    assert (defaults.support_email, defaults.support_phone, defaults.support_url) == ("", "", "")
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "support@example.com" not in readme
    assert re.search(
        r"\| `IDP_SUPPORT_EMAIL` / `IDP_SUPPORT_PHONE` / `IDP_SUPPORT_URL` \| \(none\)", readme
    )


def test_pages_say_contact_your_help_desk_with_no_address(app, client):
    make_client(app, "rp")
    browser = app.test_client()
    flow = SignInFlow(browser, RelyingParty(browser))
    flow.start()
    pages = {
        "sign-in": flow.follow().text,
        "help": client.get("/help").text,
        "forgot": client.get("/signin/forgot").text,
        "not me": client.get("/account/not-me/not-a-token").text,
        "not found": client.get("/no-such-page").text,
    }
    for name, page in pages.items():
        assert "example.com" not in page, name
        assert "mailto:" not in page, name
    assert "contact your organisation's help desk" in unescape(pages["help"])
    assert "contact your organisation's help desk" in unescape(pages["not me"])


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("language", ["en", "es"])
def test_mails_have_no_placeholder_address_in_either_part(app, template, language):
    with app.test_request_context(headers={"Accept-Language": language}):
        mail.send("ada@insurer.test", template, **TEMPLATES[template])
    deliver_mail(app)
    [raw] = sorted(Path(app.extensions["idp.settings"].outbox_dir).glob("*.eml"))
    message = parse(raw.read_bytes())
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert "example.com" not in part and "@" not in part.replace("ada@insurer.test", "")
        assert "Help desk:" not in part and "Mesa de ayuda:" not in part
    if template != "new_browser":  # its link signs out everywhere and starts a reset
        assert ("help desk" if language == "en" else "mesa de ayuda") in " ".join(text.split())
