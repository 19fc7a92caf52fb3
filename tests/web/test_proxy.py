"""Behind a load balancer: the client's address comes from X-Forwarded-For, only when trusted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models.audit_event import AuditEvent
from tests.support import csrf_of, make_user


def failed_login_ip(app, client) -> str:
    make_user(app)
    page = client.get("/signin")
    client.post(
        "/signin",
        headers={"X-Forwarded-For": "203.0.113.7"},
        data={"csrf_token": csrf_of(page), "email": "ada@example.com", "password": "nope"},
    )
    with app.app_context():
        return db.session.scalar(select(AuditEvent.ip).where(AuditEvent.event == "password.failed"))


class TestBehindOneProxy:
    @pytest.fixture
    def overrides(self):
        return {"trusted_proxies": 1}

    def test_the_forwarded_address_is_the_clients(self, app, client):
        assert failed_login_ip(app, client) == "203.0.113.7"


def test_without_trusted_proxies_the_header_is_ignored(app, client):
    assert failed_login_ip(app, client) == "127.0.0.1"
