"""Back to the app: a forgotten password and an /admin sign-in end where the user started."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
    reset_link_in_mail,
    submit,
    totp_now,
)

NEW_PASSWORD = "quiet-lantern-harbor-58"


def test_a_reset_started_from_an_apps_sign_in_ends_back_in_that_sign_in(app, client, ada, clock):
    _, secret = ada
    _, client_secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=client_secret))
    flow.start()
    sign_in_page = flow.follow()
    forgot = re.search(r'href="(/signin/forgot\?rid=[^"]+)"', sign_in_page.text)
    assert forgot, "the forgot link must carry the sign-in in progress"
    forgot_url = forgot.group(1).replace("&amp;", "&")
    rid = parse_qs(urlsplit(forgot_url).query)["rid"][0]

    submit(client, forgot_url, {"email": "ada@example.com"})
    link = reset_link_in_mail(app)
    assert parse_qs(urlsplit(link).query)["rid"] == [rid], "the mail link carries it"

    page = client.get(link)
    clock.advance(seconds=30)
    proven = client.post(
        link, data={"csrf_token": csrf_of(page), "code": totp_now(secret, app=app)}
    )
    assert proven.status_code == 302
    assert parse_qs(urlsplit(proven.location).query)["rid"] == [rid]
    done = submit(client, proven.location, {"password": NEW_PASSWORD})
    assert done.status_code == 302
    assert urlsplit(done.location).path == "/signin"
    assert parse_qs(urlsplit(done.location).query)["rid"] == [rid]

    clock.advance(seconds=30)
    flow.location, flow.password_value = done.location, NEW_PASSWORD
    params = flow.complete(secret)
    assert "code" in params, "the user lands back in the app"


def test_a_reset_without_a_sign_in_in_progress_ends_on_the_plain_sign_in(app, client, ada):
    submit(client, "/signin/forgot", {"email": "ada@example.com"})
    assert "?rid=" not in reset_link_in_mail(app)


def test_a_forged_rid_is_not_carried_into_the_mail(app, client, ada):
    submit(client, "/signin/forgot?rid=made-up", {"email": "ada@example.com"})
    assert "rid=" not in reset_link_in_mail(app)


def test_an_admin_sign_in_returns_to_the_admin_page_asked_for(app, client, clock):
    admin = make_user(app, "root@example.com", is_admin=True)
    secret = enroll_totp(app, admin.id)
    asked = client.get("/admin/clients?q=x")
    assert asked.status_code == 302
    assert urlsplit(asked.location).path == "/signin"
    assert parse_qs(urlsplit(asked.location).query)["next"] == ["/admin/clients?q=x"]

    signed = submit(client, asked.location, {"email": admin.email, "password": PASSWORD})
    location = signed.location
    for _ in range(4):
        if urlsplit(location).path == "/signin/verify":
            break
        location = client.get(location).location
    page = client.get(location)
    done = client.post(
        location, data={"csrf_token": csrf_of(page), "code": totp_now(secret, app=app)}
    )
    assert done.status_code == 302 and done.location == "/admin/clients?q=x"
    assert client.get(done.location).status_code == 200
    # Reached: a later sign-in from the account pages ends on the account page again.
    with client.session_transaction() as session:
        assert "return_to" not in session


def test_next_pointing_off_site_is_ignored(app, client):
    user = make_user(app, "bob@example.com")
    enroll_totp(app, user.id)
    signed = submit(
        client, "/signin?next=//evil.example/x", {"email": user.email, "password": PASSWORD}
    )
    assert signed.status_code == 302 and "evil" not in signed.location
