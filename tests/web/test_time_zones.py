"""Times in the user's own time zone, named: sent by the browser, saved, shown on pages and mail."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from idp.clock import now
from idp.extensions import db
from idp.models.session import SessionRecord
from idp.models.user import User
from tests.support import PASSWORD, csrf_of, enroll_totp, latest_mail, make_user, totp_now

NEW_YORK = ZoneInfo("America/New_York")


def sign_in(client, app, totp_secret, *, time_zone: str | None, **headers) -> None:
    """Password (with what the page's script fills in), then the app code, at the account."""
    page = client.get("/signin", headers=headers)
    data = {"csrf_token": csrf_of(page), "email": "ada@example.com", "password": PASSWORD}
    if time_zone is not None:
        data["time_zone"] = time_zone
    assert client.post("/signin", data=data, headers=headers).status_code == 302
    page = client.get("/signin/verify", headers=headers)
    code = totp_now(totp_secret, app=app)
    done = client.post("/signin/verify", data={"csrf_token": csrf_of(page), "code": code})
    assert done.status_code == 302


def saved_zone(app, user_id: int) -> str | None:
    with app.app_context():
        return db.session.get(User, user_id).time_zone


def signed_in_at(app) -> datetime:
    """When this browser's session signed in (what the sessions table shows)."""
    with app.app_context():
        records = db.session.scalars(select(SessionRecord)).all()
        [started] = [r.data["started"] for r in records if r.data.get("started")]
        return datetime.fromisoformat(started)


def in_new_york(at: datetime, month: str) -> str:
    local = at.replace(tzinfo=UTC).astimezone(NEW_YORK)
    return f"{local.day} {month} {local.year}, {local:%H:%M} {local.tzname()}"


def test_the_zone_from_the_sign_in_form_is_saved_and_pages_show_times_in_it(app, client):
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    sign_in(client, app, totp_secret, time_zone="America/New_York")
    assert saved_zone(app, user.id) == "America/New_York"
    page = client.get("/account/security").text
    assert "Times on this page are in the America/New_York time zone." in page
    month = f"{signed_in_at(app).replace(tzinfo=UTC).astimezone(NEW_YORK):%b}"
    assert in_new_york(signed_in_at(app), month) in page  # e.g. "30 Nov 2026, 16:05 EST"
    assert " UTC" not in page


def test_spanish_pages_write_the_date_in_spanish_with_the_zone_named(app, client):
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    sign_in(client, app, totp_secret, time_zone="America/New_York", **{"Accept-Language": "es"})
    page = client.get("/account/security", headers={"Accept-Language": "es"}).text
    local = signed_in_at(app).replace(tzinfo=UTC).astimezone(NEW_YORK)
    months = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"]
    spanish = f"{local.day} {months[local.month - 1]} {local.year}, {local:%H:%M} {local.tzname()}"
    assert spanish in page


def test_mail_says_the_time_in_the_recipients_zone(app, client):
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    sign_in(client, app, totp_secret, time_zone="America/New_York")
    page = client.get("/account/security")
    client.post(
        "/account/password",
        data={"csrf_token": csrf_of(page), "current": PASSWORD, "new": "quiet-lantern-harbor-58"},
    )
    mail = latest_mail(app)
    local = now().replace(tzinfo=UTC).astimezone(NEW_YORK)
    assert f"{local:%B} {local.day}, {local.year}" in mail or f"{local.day} {local:%B}" in mail
    assert local.tzname() in mail and " UTC" not in mail


def test_an_unknown_zone_is_ignored_and_times_stay_in_utc(app, client):
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    sign_in(client, app, totp_secret, time_zone="Mars/Olympus_Mons")
    assert saved_zone(app, user.id) is None
    page = client.get("/account/security")
    assert page.status_code == 200
    assert "in the UTC time zone" in page.text and " UTC" in page.text

    token = csrf_of(page)
    for bad in ("../../etc/passwd", "", 42, "A" * 500, None):
        response = client.post(
            "/account/time-zone", json={"time_zone": bad}, headers={"X-CSRFToken": token}
        )
        assert response.status_code == 400
    assert saved_zone(app, user.id) is None
    response = client.post(
        "/account/time-zone", json={"time_zone": "Europe/Madrid"}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 204 and saved_zone(app, user.id) == "Europe/Madrid"
    # Without the CSRF header the endpoint refuses, like every form.
    assert client.post("/account/time-zone", json={"time_zone": "Asia/Tokyo"}).status_code == 400
    assert saved_zone(app, user.id) == "Europe/Madrid"


def test_a_stored_zone_this_host_no_longer_knows_reads_as_utc(app, client):
    user = make_user(app)
    totp_secret = enroll_totp(app, user.id)
    sign_in(client, app, totp_secret, time_zone=None)
    with app.app_context():
        db.session.get(User, user.id).time_zone = "Gone/Away"
        db.session.commit()
    page = client.get("/account/security")
    assert page.status_code == 200 and "in the UTC time zone" in page.text


def test_the_admin_user_page_shows_times_in_the_admins_zone(app, client):
    from tests.web.test_admin_helpers import signed_in_admin

    admin = signed_in_admin(app, client)
    with app.app_context():
        db.session.get(User, admin.id).time_zone = "America/New_York"
        db.session.commit()
    page = client.get(f"/admin/users/{admin.subject}").text
    month = f"{signed_in_at(app).replace(tzinfo=UTC).astimezone(NEW_YORK):%b}"
    assert in_new_york(signed_in_at(app), month) in page
