"""The admin API's OpenAPI document: every operation named (operationId) and tagged, every
route documented, and a reference page for people at /admin/api-docs (admins only, no script,
nothing from another origin)."""

from __future__ import annotations

import re

from flask import Flask

from tests.support import enroll_totp, make_user
from tests.web.test_admin_helpers import admin_token, sign_in, signed_in_admin

API = "/admin/api/v1"
METHODS = {"get", "post", "patch", "put", "delete"}


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [
        (method, path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_every_operation_has_a_unique_operation_id_and_a_declared_tag(app, client):
    token = admin_token(app, client)
    document = client.get(f"{API}/openapi.json", headers={"Authorization": f"Bearer {token}"})
    document = document.get_json()
    declared = {tag["name"] for tag in document["tags"]}
    ids = []
    for method, path, op in _operations(document):
        assert re.fullmatch(r"[a-z][A-Za-z]+", op.get("operationId", "")), (method, path)
        assert op.get("tags") and set(op["tags"]) <= declared, (method, path)
        ids.append(op["operationId"])
    assert len(ids) == len(set(ids))
    assert {"listUserSessions", "endUserSession", "signOutUserEverywhere"} <= set(ids)


def test_every_api_route_is_in_the_document(app: Flask, client):
    token = admin_token(app, client)
    document = client.get(f"{API}/openapi.json", headers={"Authorization": f"Bearer {token}"})
    documented = {(m, p) for m, p, _ in _operations(document.get_json())}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API + "/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?(\w+)>", r"{\1}", rule.rule[len(API) :])
        for method in (rule.methods or set()) & {m.upper() for m in METHODS}:
            assert (method.lower(), path) in documented, (method, path)


def test_the_reference_page_renders_every_operation_for_an_admin(app, client):
    signed_in_admin(app, client)
    page = client.get("/admin/api-docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    document = client.get("/admin/api-docs/openapi.json").get_json()
    for method, path, op in _operations(document):
        anchor = f'id="op-{op["operationId"]}"'
        assert anchor in page.text, op["operationId"]
        block = page.text.split(anchor, 1)[1].split("</article>", 1)[0]
        assert f'>{method.upper()}</span> <code class="long">{path}</code>' in block
    assert 'id="schema-Session"' in page.text and "its place is approximate" in page.text
    # No script, style or font from anywhere: the page is plain HTML under the app's CSP.
    assert "<script" not in page.text.split("</main>")[0].split('<main id="main"')[1]
    assert not re.search(r'(?:src|href)="https?://(?!localhost)', page.text)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_the_reference_is_for_admins_only(app, client):
    assert client.get("/admin/api-docs").status_code == 302  # sign in first
    user = make_user(app, "bob@example.com")
    sign_in(client, "bob@example.com", enroll_totp(app, user.id))
    assert client.get("/admin/api-docs").status_code == 403
    assert client.get("/admin/api-docs/openapi.json").status_code == 403
