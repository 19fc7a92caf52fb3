"""DESIGN rule 2 (never-activated accounts prove their email first) and the help page."""

from __future__ import annotations

from idp.extensions import db
from idp.models.user import User
from tests.support import (
    RelyingParty,
    SignInFlow,
    code_in_mail,
    csrf_of,
    make_client,
    make_user,
)


def test_an_account_never_activated_proves_its_email_before_enrolling(app, client):
    user = make_user(app, activated=False)
    _, secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    flow.password()
    assert flow.location.startswith("/signin/prove-email")
    rid = flow.location.split("rid=")[1]
    # Enrollment is closed until the email is proven: a leaked password can't bind a factor.
    assert client.get(f"/signin/enroll/totp?rid={rid}").status_code == 302
    page = client.get(flow.location)
    assert "ada@example.com" in page.text
    wrong = client.post(flow.location, data={"csrf_token": csrf_of(page), "code": "999999"})
    assert wrong.status_code == 400
    done = client.post(flow.location, data={"csrf_token": csrf_of(page), "code": code_in_mail(app)})
    assert done.status_code == 302
    assert done.location.startswith("/signin/enroll")  # the policy's next step, at once
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored.activated_at is not None and stored.email_verified


def test_help_is_linked_from_every_sign_in_page_and_leads_back(app, client):
    make_user(app)
    _, secret = make_client(app)
    flow = SignInFlow(client, RelyingParty(client, secret=secret))
    flow.start()
    assert "/help" in client.get(flow.location).text
    flow.password()
    rid = flow.location.split("rid=")[1]  # kept in the session once signed in
    assert f"/help?rid={rid}" in client.get(flow.location).text  # enrollment
    page = client.get(f"/help?rid={rid}").text
    assert f"/authorize/resume/{rid}" in page  # the way back
    for topic in (
        "authenticator app",
        "Security key or passkey",
        "recovery codes",
        "Do not challenge me on this device",
        "Lost your phone",
        "help@insurer.example",
    ):
        assert topic.lower() in page.lower(), topic
