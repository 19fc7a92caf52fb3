"""The password step: no user enumeration, argon2id, transparent rehash, lock-out."""

from __future__ import annotations

import re

from sqlalchemy import select

from idp.extensions import db
from idp.models.sign_in_failure import SignInFailure
from idp.models.user import User
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    commits,
    csrf_of,
    make_client,
    make_user,
)


def attempt(client, email: str, password: str):
    page = client.get("/signin")
    return client.post(
        "/signin", data={"csrf_token": csrf_of(page), "email": email, "password": password}
    )


def from_address(app, address: str):
    """A browser whose requests come from `address`."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def visible(html: str) -> str:
    return re.sub(r'(value|content)="[^"]*"', "", html)


def test_unknown_email_and_wrong_password_look_the_same(app, client):
    make_user(app)
    unknown = attempt(client, "nobody@example.com", "whatever-it-is-1")
    wrong = attempt(client, "ada@example.com", "whatever-it-is-1")
    assert unknown.status_code == wrong.status_code == 401
    assert visible(unknown.text).replace("nobody@example.com", "X") == visible(wrong.text).replace(
        "ada@example.com", "X"
    )
    assert "don&#39;t match our records" in wrong.text


def test_a_refused_attempt_shows_the_email_typed_again_never_the_password(app, client):
    make_user(app)
    wrong = attempt(client, "ada@example.com", "whatever-it-is-1")
    assert re.search(r'<input id="email"[^>]*value="ada@example.com"', wrong.text)
    assert "whatever-it-is-1" not in wrong.text
    assert 'value="ada@example.com"' not in client.get("/signin").text  # a new visit: empty


def test_a_wrong_password_costs_one_commit_whether_or_not_the_account_exists(app, client):
    make_user(app)
    page = client.get("/signin")
    with commits(app) as seen:
        for email in ("ada@example.com", "nobody@example.com"):
            form = {"csrf_token": csrf_of(page), "email": email, "password": "whatever-it-is-1"}
            assert client.post("/signin", data=form).status_code == 401
            seen.append(email)
    assert seen == ["commit", "ada@example.com", "commit", "nobody@example.com"]
    with app.app_context():
        counts = db.session.scalars(select(SignInFailure.count)).all()
        assert counts == [1, 1, 1, 1], "kept alike: per source and per account, for both emails"


def test_the_page_names_the_client_and_prefills_the_login_hint(app, client):
    make_client(app)
    flow = SignInFlow(client, RelyingParty(client))
    flow.start(login_hint="ada@example.com")
    page = client.get(flow.location).text
    assert "RP Portal" in page and 'value="ada@example.com"' in page


def test_old_argon2_parameters_are_upgraded_at_sign_in(app, client):
    from argon2 import PasswordHasher

    user = make_user(app)
    with app.app_context():
        row = db.session.get(User, user.id)
        row.password_hash = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(
            "plum-orchard-velvet-93"
        )
        db.session.commit()
    assert attempt(client, "ada@example.com", "plum-orchard-velvet-93").status_code == 302
    with app.app_context():
        assert "m=1024,t=1" in db.session.get(User, user.id).password_hash


def test_wrong_passwords_slow_down_only_the_source_that_types_them(app, clock):
    make_user(app)
    attacker = from_address(app, "203.0.113.9")
    owner = from_address(app, "198.51.100.7")
    for _ in range(5):
        assert attempt(attacker, "ada@example.com", "wrong-guess-000").status_code == 401
    held = attempt(attacker, "ada@example.com", "plum-orchard-velvet-93")
    assert held.status_code == 429 and "wait 1 minute" in held.text, "not even checked"
    # The owner, elsewhere, is not locked out by someone else's guesses.
    assert attempt(owner, "ada@example.com", "plum-orchard-velvet-93").status_code == 302
    # Each further failure from the attacker doubles its wait.
    clock.advance(seconds=1)
    assert attempt(attacker, "ada@example.com", "wrong-guess-000").status_code == 401
    clock.advance(seconds=1)
    assert attempt(attacker, "ada@example.com", "wrong-guess-000").status_code == 429
    clock.advance(seconds=1)
    assert attempt(attacker, "ada@example.com", "wrong-guess-000").status_code == 401


def test_an_unknown_email_is_throttled_exactly_like_a_known_one(app):
    make_user(app)
    answers = {}
    for email in ("ada@example.com", "nobody@example.com"):
        browser = app.test_client()
        answers[email] = [attempt(browser, email, "wrong-guess-000").status_code for _ in range(7)]
    assert answers["ada@example.com"] == answers["nobody@example.com"] == [401] * 5 + [429] * 2


CHROME_ON_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
DEVICE = "device-token-of-adas-laptop"


def trust_adas_laptop(app, user_id: int, *, days: int = 30) -> None:
    """Ada ticked "Do not challenge me" for the RP in Chrome on her Mac."""
    from idp.authn import trusted_device
    from idp.clock import now

    with app.app_context():
        trusted_device.after_challenge(
            user_id,
            "rp",
            DEVICE,
            remember=True,
            days=days,
            agent=trusted_device.agent_summary(CHROME_ON_MAC),
            ip="",
            at=now(),
        )
        db.session.commit()


def browser_with_cookie(app, address: str, agent: str):
    """A browser at `address` sending `agent` and Ada's device cookie."""
    browser = from_address(app, address)
    browser.environ_base["HTTP_USER_AGENT"] = agent
    browser.set_cookie("idp_device", DEVICE, domain="localhost")
    return browser


def attempt_for_rp(browser, password: str):
    """The password step of a sign-in to the RP (trust is per client)."""
    started = browser.get(RelyingParty(browser).authorize_url())
    page = browser.get(started.location)
    return browser.post(
        started.location,
        data={"csrf_token": csrf_of(page), "email": "ada@example.com", "password": password},
    )


def cap_adas_account(app) -> None:
    for n in range(100):  # a botnet: one guess per address, no source is ever slowed
        bot = from_address(app, f"192.0.2.{n}")
        assert attempt(bot, "ada@example.com", "wrong-guess-000").status_code == 401


def test_a_hundred_failures_cap_the_account_but_a_trusted_browser_goes_through(app, clock):
    from tests.support import latest_mail

    user = make_user(app)
    make_client(app)
    trust_adas_laptop(app, user.id)
    cap_adas_account(app)
    stranger = from_address(app, "203.0.113.50")
    capped = attempt(stranger, "ada@example.com", "plum-orchard-velvet-93")
    assert capped.status_code == 429 and "paused password sign-in" in capped.text
    # The owner was told, at the tenth failure and at the cap.
    assert "stopped checking passwords" in latest_mail(app, "ada@example.com")
    laptop = browser_with_cookie(app, "198.51.100.7", CHROME_ON_MAC)
    assert attempt_for_rp(laptop, "plum-orchard-velvet-93").status_code == 302
    # The success ended the account's streak: others may try again.
    assert attempt(stranger, "ada@example.com", "plum-orchard-velvet-93").status_code == 302


def test_a_copied_device_cookie_in_another_browser_does_not_lift_the_cap(app):
    user = make_user(app)
    make_client(app)
    trust_adas_laptop(app, user.id)
    cap_adas_account(app)
    thief = browser_with_cookie(app, "203.0.113.50", FIREFOX_ON_LINUX)
    held = attempt_for_rp(thief, "plum-orchard-velvet-93")
    assert held.status_code == 429 and "paused password sign-in" in held.text, "not even checked"
    # Nor does the cookie count for another client, or with no client at all (trust is per
    # client), even in the very browser it was given to.
    laptop = browser_with_cookie(app, "198.51.100.7", CHROME_ON_MAC)
    assert attempt(laptop, "ada@example.com", "plum-orchard-velvet-93").status_code == 429
    assert attempt_for_rp(laptop, "plum-orchard-velvet-93").status_code == 302


def test_a_copied_device_cookie_does_not_lift_the_per_source_delay(app):
    user = make_user(app)
    make_client(app)
    trust_adas_laptop(app, user.id)
    thief = browser_with_cookie(app, "203.0.113.50", FIREFOX_ON_LINUX)
    for _ in range(5):
        assert attempt_for_rp(thief, "wrong-guess-000").status_code == 401
    assert attempt_for_rp(thief, "wrong-guess-000").status_code == 429
    # From the same address, the browser the trust was given to is not slowed.
    laptop = browser_with_cookie(app, "203.0.113.50", CHROME_ON_MAC)
    assert attempt_for_rp(laptop, "plum-orchard-velvet-93").status_code == 302


def test_expired_trust_does_not_lift_the_cap(app, clock):
    user = make_user(app)
    make_client(app)
    trust_adas_laptop(app, user.id, days=1)
    clock.advance(days=1, seconds=1)
    cap_adas_account(app)
    laptop = browser_with_cookie(app, "198.51.100.7", CHROME_ON_MAC)
    assert attempt_for_rp(laptop, "plum-orchard-velvet-93").status_code == 429


def test_a_signed_in_password_step_commits_once_with_its_audit_event(app, client):
    """The work, its audit event and the new session row go in one commit."""
    make_user(app)
    page = client.get("/signin")
    form = {"csrf_token": csrf_of(page), "email": "ada@example.com", "password": PASSWORD}
    with commits(app) as seen:
        assert client.post("/signin", data=form).status_code == 302
    assert seen == ["commit"]
    with app.app_context():
        from idp.models.audit_event import AuditEvent

        assert db.session.scalar(select(AuditEvent).where(AuditEvent.event == "password.verified"))


def test_a_device_cookie_costs_the_same_statements_for_known_and_unknown_emails(app):
    """The trust lookup a device cookie brings is made for an unknown email too: how long a
    wrong password takes says nothing about whether the account exists."""
    from tests.web.test_sql_budget import counting

    make_user(app)
    _, secret = make_client(app)
    sent: dict[str, list[str]] = {}
    for email in ("ada@example.com", "nobody@example.com"):
        browser = app.test_client()
        browser.set_cookie("idp_device", "a-device-token-from-anywhere", domain="localhost")
        flow = SignInFlow(browser, RelyingParty(browser, secret=secret))
        flow.start()  # the sign-in page of the client's request
        page = browser.get(flow.location)
        with counting(app) as counter:
            counter.start(email)
            form = {"csrf_token": csrf_of(page), "email": email, "password": "whatever-it-is-1"}
            assert browser.post(flow.location, data=form).status_code == 401
        sent[email] = [" ".join(s.split())[:60] for s in counter.rows[0][1]]
    assert sent["ada@example.com"] == sent["nobody@example.com"]
