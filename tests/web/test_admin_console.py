"""The issue's story from the console alone: register a client, help a user who lost their
phone, and read in the audit log everything that happened."""

from __future__ import annotations

import html
import json
import re

from tests.support import enroll_totp, make_user
from tests.web.test_admin_helpers import events, post_form, signed_in_admin


def shown(page) -> list[str]:
    """Event names in the audit table."""
    return re.findall(r'<td class="code">([\w.]+)</td>', page.text)


def test_register_a_client_reset_a_lost_phone_and_read_the_audit_log(app, client):
    admin = signed_in_admin(app, client)
    home = client.get("/admin")
    assert home.status_code == 200 and "register a client" in home.text
    created = post_form(
        client,
        "/admin/clients/new",
        {
            "client_id": "helpdesk",
            "name": "Helpdesk",
            "redirect_uris": "https://helpdesk.example/cb",
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"],
            "scopes": ["openid", "email"],
            "mfa_policy": "any",
            "remember_days": "30",
            "id_token_signed_response_alg": "RS256",
        },
    )
    assert created.status_code == 200 and 'id="client-secret"' in created.text

    user = make_user(app, "lost@example.com", name="Lou Lost")
    enroll_totp(app, user.id)
    found = client.get("/admin/users?q=lou")
    assert f"/admin/users/{user.subject}" in found.text
    post_form(client, f"/admin/users/{user.subject}/reset-mfa", {"confirmed": "yes"})

    log = client.get("/admin/audit")
    assert log.status_code == 200
    assert {"client.created", "user.mfa_reset", "password.verified"} <= set(shown(log))
    only_user = client.get("/admin/audit", query_string={"user": "lost@example.com"})
    assert shown(only_user) == ["user.mfa_reset"]
    only_client = client.get("/admin/audit", query_string={"client": "helpdesk"})
    assert shown(only_client) == ["client.created"]
    by_prefix = client.get(
        "/admin/audit", query_string={"event": "client.*", "since": "2000-01-01"}
    )
    assert shown(by_prefix) == ["client.created"]
    future = client.get("/admin/audit", query_string={"since": "2999-01-01"})
    assert "No events match" in future.text
    bad = client.get("/admin/audit", query_string={"until": "tomorrow"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text

    export = client.get("/admin/audit/export", query_string={"event": "user.*"})
    assert export.mimetype == "application/x-ndjson"
    assert "attachment" in export.headers["Content-Disposition"]
    lines = [json.loads(line) for line in export.get_data(as_text=True).splitlines()]
    assert [(e["event"], e["user_email"]) for e in lines] == [
        ("user.mfa_reset", "lost@example.com")
    ]
    assert lines[0]["detail"]["admin_id"] == admin.id
    assert events(app, "audit.exported")[-1].detail["filters"] == {"event": "user.*"}


def test_audit_pages_older_events(app, client):
    signed_in_admin(app, client)
    from idp import audit

    with app.test_request_context():
        for n in range(105):
            audit.record("test.event", commit=False, n=n)
        from idp.extensions import db

        db.session.commit()
    first = client.get("/admin/audit?event=test.event")
    assert first.text.count("test.event") >= 100 and "Older events" in first.text
    link = re.search(r'<a href="([^"]+)">Older events</a>', first.text).group(1)
    older = client.get(html.unescape(link))
    assert older.status_code == 200 and "n=0" in older.text and "Older events" not in older.text


def test_the_api_document_is_readable_from_the_console(app, client):
    signed_in_admin(app, client)
    document = client.get("/admin/api-docs/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert (
        document["components"]["securitySchemes"]["clientCredentials"]["flows"][
            "clientCredentials"
        ]["tokenUrl"]
        == "http://localhost/token"
    )
