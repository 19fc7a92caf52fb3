"""Every one-time code is under the user's one counter; resends are capped and honest."""

from __future__ import annotations

from sqlalchemy import func, select

from idp.extensions import db
from idp.models.email_code import EmailCode
from tests.support import RelyingParty, SignInFlow, code_in_mail, csrf_of, make_client, make_user


def at_prove_email(app, client) -> str:
    """A never-activated user, password typed: the email-proof page."""
    _, secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    flow.password()
    assert flow.location.startswith("/signin/prove-email")
    assert "We sent a 6-digit code" in client.get(flow.location).text  # the first code
    return flow.location


def post_code(client, url: str, code: str):
    page = client.get(url)
    return client.post(url, data={"csrf_token": csrf_of(page), "code": code})


def resend(client, url: str):
    page = client.get(url)
    return client.post(url, data={"csrf_token": csrf_of(page), "resend-submit": "1"})


def codes_sent(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(EmailCode)) or 0


def test_email_proof_codes_count_towards_the_users_limit(app, client, clock):
    """Resending used to reset the guesses: now the count goes on across codes."""
    make_user(app, activated=False)
    url = at_prove_email(app, client)
    for _ in range(4):
        assert post_code(client, url, "999999").status_code == 400
    clock.advance(seconds=31)
    assert resend(client, url).status_code == 200  # a new code, but the same count
    assert post_code(client, url, "999999").status_code == 400  # fifth wrong code
    held = post_code(client, url, code_in_mail(app))
    assert held.status_code == 429 and "wait 1 minute" in held.text, "even the right code waits"
    clock.advance(seconds=31)
    assert post_code(client, url, code_in_mail(app)).status_code == 302


def test_resends_are_capped_per_hour_and_the_page_says_so(app, client, clock):
    make_user(app, activated=False)
    url = at_prove_email(app, client)  # the first code
    for _ in range(4):
        clock.advance(seconds=31)
        assert resend(client, url).status_code == 200
    assert codes_sent(app) == 5
    clock.advance(seconds=31)
    refused = resend(client, url)
    assert refused.status_code == 429 and "did not send another" in refused.text
    assert codes_sent(app) == 5
    # Once the newest code has expired, the page does not claim it sent one.
    clock.advance(minutes=10)
    page = client.get(url)
    assert "We sent a 6-digit code" not in page.text
    assert "did not send another" in page.text
    assert codes_sent(app) == 5
    clock.advance(minutes=50)
    assert "We sent a 6-digit code" in client.get(url).text
    assert codes_sent(app) == 6


def test_the_user_hears_of_ten_wrong_codes(app, client, clock):
    from tests.support import latest_mail

    make_user(app, activated=False)
    url = at_prove_email(app, client)
    for n in range(10):
        clock.advance(minutes=20)  # past every wait
        if n % 4 == 3:
            resend(client, url)
        assert post_code(client, url, "999999").status_code == 400
    assert "10 failed attempts" in latest_mail(app, "ada@example.com")
