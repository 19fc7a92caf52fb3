"""A sign-in's SQL budget (issue 15): statements per request, counted through the real pages.

A budget, not a timing: each figure is the number of statements the engine executes, so a
regression (a lazy load, a second policy query, a SELECT before an UPDATE) fails here at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from werkzeug.test import TestResponse

from idp.web.sweeper import Sweeper
from tests.support import (
    PASSWORD,
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    make_client,
    make_user,
    query,
    totp_now,
)

# Issue 15 asks for a sign-in in <= 30 statements (42 before this budget). The budgets are
# today's counts, so a statement added by accident fails here; raise one only on purpose.
FULL_SIGN_IN_BUDGET = 17  # 20 with a hop through /authorize/resume after each step
SSO_BUDGET = 7
TRUSTED_DEVICE_BUDGET = 13
# A refresh (rotation): the spend that also reads the token (UPDATE ... RETURNING), the INSERT.
REFRESH_BUDGET = 2


class Counter:
    """Statements the app's engine executes, per labelled request."""

    def __init__(self) -> None:
        self.label = ""
        self.rows: list[tuple[str, list[str]]] = []

    def executed(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.rows[-1][1].append(statement)

    def start(self, label: str) -> None:
        self.rows.append((label, []))

    @property
    def total(self) -> int:
        return sum(len(statements) for _, statements in self.rows)

    def report(self, title: str, *, statements: bool = True) -> str:
        """Statements per request (and each statement's start, unless told not to)."""
        lines = [f"{title}: {self.total} statements"]
        for label, executed in self.rows:
            lines.append(f"  {len(executed):3d}  {label}")
            if statements:
                lines.extend(f"         {' '.join(s.split())[:160]}" for s in executed)
        return "\n".join(lines)


@contextmanager
def counting(app: Flask) -> Iterator[Counter]:
    """Count every statement the app's engine executes while the block runs."""
    counter = Counter()
    for hook in app.teardown_request_funcs.get(None, []):
        if isinstance(hook, Sweeper):
            # Housekeeping runs once a minute per worker, not per sign-in: not in the budget.
            hook.next_at = datetime.max
    # Other workers' client changes are looked for at most once a second of real time, so a
    # slow machine would count one more statement: not in the budget either. (The app is
    # reused by later tests: the client cache gets its clock back.)
    clients = app.extensions["idp.oidc"].clients
    checked_at, clients._checked_at = clients._checked_at, float("inf")
    with app.app_context():
        from idp.extensions import db

        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter.executed)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter.executed)
        clients._checked_at = checked_at


class Browser:
    """A browser whose every request is counted under a label."""

    def __init__(self, client: FlaskClient, counter: Counter) -> None:
        self.client = client
        self.counter = counter

    def get(self, url: str, label: str) -> TestResponse:
        self.counter.start(f"GET  {label}")
        return self.client.get(url)

    def post(self, url: str, data: dict[str, str], label: str, **kw: Any) -> TestResponse:
        self.counter.start(f"POST {label}")
        return self.client.post(url, data=data, **kw)


def _location(response: TestResponse) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text[:400])
    return response.headers["Location"]


def sign_in(
    app: Flask,
    browser: Browser,
    rp: RelyingParty,
    secret: str | None,
    *,
    remember: bool = False,
) -> dict[str, Any]:
    """Authorize at `rp` through whatever pages the provider shows; redeem the code."""
    location = _location(browser.get(rp.authorize_url(), "/authorize"))
    for _ in range(8):
        path = urlsplit(location).path
        if location.startswith(rp.redirect_uri):
            break
        if path == "/signin":
            page = browser.get(location, "/signin (page)")
            form = {"csrf_token": csrf_of(page), "email": "ada@example.com", "password": PASSWORD}
            location = _location(browser.post(location, form, "/signin (password)"))
        elif path == "/signin/verify":
            assert secret is not None
            page = browser.get(location, "/signin/verify (page)")
            app.extensions["idp.clock"].advance(seconds=30)  # a TOTP code is accepted once
            form = {"csrf_token": csrf_of(page), "code": totp_now(secret, app=app)}
            if remember:
                form["remember"] = "y"
            location = _location(browser.post(location, form, "/signin/verify (code)"))
        else:
            location = _location(browser.get(location, path.rsplit("/", 1)[0] or path))
    params = query(location)
    assert "code" in params, params
    browser.counter.start("POST /token (code + PKCE)")
    response = rp.redeem(params["code"])
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def _show(capsys: Any, report: str) -> None:
    """The per-request figures, printed even when the test passes (-s or not)."""
    with capsys.disabled():
        print("\n" + report)


def _rp(app: Flask, client_id: str, secret: str | None) -> RelyingParty:
    """The RP redeems codes from its own server: no browser cookie reaches /token."""
    return RelyingParty(app.test_client(), client_id=client_id, secret=secret)


def test_a_full_sign_in_stays_within_its_sql_budget(app: Flask, capsys: Any) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app, "rp")
    browser = app.test_client()
    with counting(app) as counter:
        tokens = sign_in(
            app,
            Browser(browser, counter),
            _rp(app, "rp", client_secret),
            secret,
        )
    assert "id_token" in tokens
    _show(capsys, counter.report("full sign-in (password, TOTP, code + PKCE)", statements=False))
    assert counter.total <= FULL_SIGN_IN_BUDGET, counter.report("over budget")


def test_a_second_client_in_the_same_session_stays_within_its_budget(
    app: Flask, capsys: Any
) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, secret_a = make_client(app, "rp")
    _, secret_b = make_client(app, "rp-b")
    browser = app.test_client()
    with counting(app) as first:
        sign_in(app, Browser(browser, first), _rp(app, "rp", secret_a), secret)
    with counting(app) as counter:
        tokens = sign_in(app, Browser(browser, counter), _rp(app, "rp-b", secret_b), None)
    assert "id_token" in tokens
    _show(capsys, counter.report("single sign-on at a second client", statements=False))
    assert counter.total <= SSO_BUDGET, counter.report("over budget")


def test_a_trusted_device_sign_in_stays_within_its_budget(app: Flask, capsys: Any) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app, "rp")
    browser = app.test_client()
    with counting(app) as first:
        rp = _rp(app, "rp", client_secret)
        sign_in(app, Browser(browser, first), rp, secret, remember=True)
    browser.delete_cookie("idp_session")  # a new browser session; the device cookie stays
    with counting(app) as counter:
        tokens = sign_in(app, Browser(browser, counter), _rp(app, "rp", client_secret), None)
    assert "id_token" in tokens
    _show(capsys, counter.report("trusted device (password, no challenge)", statements=False))
    assert counter.total <= TRUSTED_DEVICE_BUDGET, counter.report("over budget")


def test_a_refresh_stays_within_its_budget(app: Flask, capsys: Any) -> None:
    user = make_user(app)
    secret = enroll_totp(app, user.id)
    _, client_secret = make_client(app, "rp")
    rp = _rp(app, "rp", client_secret)
    exchange = SignInFlow(app.test_client(), rp).authorize_and_exchange(
        secret, scope="openid profile email offline_access"
    )
    with counting(app) as counter:
        counter.start("POST /token (refresh_token)")
        response = rp.refresh(exchange.tokens["refresh_token"])
    assert response.status_code == 200, response.get_json()
    _show(capsys, counter.report("refresh (rotation)"))
    assert counter.total <= REFRESH_BUDGET, counter.report("over budget")


def test_the_factors_read_with_the_session_row_are_forgotten_at_a_factor_write(
    app: Flask,
) -> None:
    """The shortcut must never hide a factor removed or spent later in the same request."""
    from sqlalchemy import select, update

    from idp.extensions import db
    from idp.models.recovery_code import RecoveryCode
    from idp.models.second_factor import remember_stored_factors, stored_factors
    from idp.models.totp_credential import TotpCredential

    user = make_user(app)
    enroll_totp(app, user.id)
    with app.test_request_context():
        remember_stored_factors(user.id, (True, False, True))
        assert stored_factors(user.id).recovery_code, "as read with the session row"
        db.session.execute(update(RecoveryCode).values(used_at=None))  # a bulk write
        assert not stored_factors(user.id).recovery_code, "asked afresh: the user has none"
        assert stored_factors(user.id).totp
        remember_stored_factors(user.id, (True, False, False))
        mine = select(TotpCredential).where(TotpCredential.user_id == user.id)
        for credential in db.session.scalars(mine):
            db.session.delete(credential)
        db.session.flush()  # an ORM write
        assert not stored_factors(user.id).totp
        db.session.rollback()


def test_the_factors_read_with_the_session_row_outlive_writes_that_cannot_change_them(
    app: Flask,
) -> None:
    """A TOTP step spent, an audit event or the user's last factor: no second EXISTS query.
    Moving an app to another user, a new app, or a statement that names no table: asked afresh.
    """
    from sqlalchemy import select, text, update

    from idp import audit
    from idp.extensions import db
    from idp.models.second_factor import remember_stored_factors, stored_factors
    from idp.models.totp_credential import TotpCredential
    from idp.models.user import User

    user = make_user(app)
    enroll_totp(app, user.id)
    with app.test_request_context():
        # Remembered: a key the user does not have, so an answer read afresh would differ.
        remember_stored_factors(user.id, (True, True, False))
        db.session.execute(update(TotpCredential).values(last_step=TotpCredential.last_step + 1))
        audit.record("test.event", user_id=user.id)
        db.session.get(User, user.id).last_factor = "totp"  # type: ignore[union-attr]
        db.session.flush()
        assert stored_factors(user.id).webauthn, "the remembered answer still stands"

        db.session.execute(text("UPDATE totp_credentials SET last_step = last_step"))
        assert not stored_factors(user.id).webauthn, "a statement with no known table forgets"

        remember_stored_factors(user.id, (True, True, False))
        db.session.execute(update(TotpCredential).values(user_id=user.id))
        assert not stored_factors(user.id).webauthn, "an app moved between users forgets"

        remember_stored_factors(user.id, (True, True, False))
        mine = db.session.scalars(select(TotpCredential).where(TotpCredential.user_id == user.id))
        next(iter(mine)).name = "renamed"
        db.session.flush()  # an ORM write to an app
        assert not stored_factors(user.id).webauthn
        db.session.rollback()
