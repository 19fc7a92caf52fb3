"""Clear states: a sign-in ended by wrong codes says so, ids are unique, destruction asks first."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
    submit,
)
from tests.web.test_admin_helpers import signed_in_admin, user_row


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids += [v for k, v in attrs if k == "id" and v]


def duplicate_ids(html: str) -> list[str]:
    parser = _Ids()
    parser.feed(html)
    return [name for name, n in Counter(parser.ids).items() if n > 1]


def at_challenge(app, client, *, new_client: bool = True) -> SignInFlow:
    secret = make_client(app)[1] if new_client else "secret-of-rp"
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    flow.password()
    while not flow.location.startswith("/signin/verify"):
        flow.follow()
    return flow


def wrong_code(client, url: str):
    page = client.get(url)
    return client.post(url, data={"csrf_token": csrf_of(page), "code": "000000"})


def test_the_fifth_wrong_code_says_the_sign_in_ended_and_offers_to_start_again(app, client, clock):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    flow = at_challenge(app, client)
    for _ in range(4):
        assert wrong_code(client, flow.location).status_code == 400
    ended = wrong_code(client, flow.location)
    assert "Sign-in ended" in ended.text and "5 times" in ended.text
    assert "expired" not in ended.text and 'name="code"' not in ended.text
    again = re.search(r'<a href="(/signin\?rid=[^"]+)" autofocus>Start again</a>', ended.text)
    assert again, "a way to start again, still carrying the app's request"
    flow.location = again.group(1).replace("&amp;", "&")
    assert "Signing in to" in client.get(flow.location).text
    clock.advance(minutes=2)  # the account's own wait after five wrong codes
    assert "code" in flow.complete(secret), "starting again ends in the app"


def test_the_ended_page_is_in_spanish_too(app, client):
    user = make_user(app)
    enroll_totp(app, user.id)
    flow = at_challenge(app, client)
    for _ in range(4):
        wrong_code(client, flow.location)
    page = client.get(flow.location)
    ended = client.post(
        flow.location,
        data={"csrf_token": csrf_of(page), "code": "000000"},
        headers={"Accept-Language": "es"},
    )
    assert "Inicio de sesión terminado" in ended.text


def test_no_page_has_two_elements_with_the_same_id(app, client):
    pages: dict[str, str] = {}
    anonymous = app.test_client()
    for url in ("/signin", "/signin/forgot", "/help"):
        pages[url] = anonymous.get(url).text
    pages["/signin (refused)"] = submit(
        anonymous, "/signin", {"email": "x@example.com", "password": "wrong-password-1"}
    ).text

    newcomer = app.test_client()
    make_user(app, "new@example.com")
    _, rp_secret = make_client(app)
    rp = RelyingParty(newcomer, secret=rp_secret)
    flow = SignInFlow(newcomer, rp, email="new@example.com")
    flow.start()
    flow.password()
    rid = flow.location.split("rid=")[1]
    for url in (
        f"/signin/enroll?rid={rid}",
        f"/signin/enroll/totp?rid={rid}",
        f"/signin/enroll/email?rid={rid}",
    ):
        pages[url] = newcomer.get(url).text

    user = make_user(app)
    secret = enroll_totp(app, user.id)
    enroll_totp(app, user.id, name="Tablet")
    challenged = at_challenge(app, client, new_client=False)
    pages["/signin/verify"] = client.get(challenged.location).text
    pages["/signin/verify?method=recovery_code"] = client.get(
        challenged.location + "&method=recovery_code"
    ).text
    challenged.totp(secret, remember=True)
    pages["/account/security"] = client.get("/account/security").text

    admin = app.test_client()
    signed_in_admin(app, admin)
    subject = user_row(app, "ada@example.com").subject
    for url in ("/admin", "/admin/users", "/admin/clients", f"/admin/users/{subject}"):
        pages[url] = admin.get(url).text

    unrendered = [url for url, html in pages.items() if 'id="main"' not in html]
    assert not unrendered, "each page rendered, not redirected"
    found = {url: duplicate_ids(html) for url, html in pages.items() if duplicate_ids(html)}
    assert not found, found


DESTRUCTIVE = re.compile(
    r'action="(/account/(?:factors/\w+/\d+/remove|devices/(?:\d+/forget|forget-all)|sign-out-everywhere))"'
)


def test_destructive_actions_ask_for_confirmation_first(app, client):
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    flow = at_challenge(app, client)
    flow.totp(secret, remember=True)
    page = client.get("/account/security").text
    confirmed = [
        action
        for block in re.findall(r'<details class="confirm">.*?</details>', page, re.DOTALL)
        for action in DESTRUCTIVE.findall(block)
    ]
    every = DESTRUCTIVE.findall(page)
    assert len(every) == 4, every  # remove the app, forget the device, forget all, everywhere
    assert sorted(confirmed) == sorted(every), "each behind a <details> that asks first"
