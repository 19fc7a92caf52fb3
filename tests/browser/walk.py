"""The whole walk a person takes, on a phone and a laptop, in English and Spanish (issue 14, Tests).

Sign-in, enrollment (authenticator app, email code, security key), the challenge and its fifth
wrong code, the password reset and the account page. The walk is taken on a phone (390 px, where
a control is likeliest to be out of reach), and every page visited is checked at the phone's size
and again at a laptop's: axe-core (0 serious or critical violations; the engine comes from the
axe-playwright-python package, never a CDN), no sideways scrolling, the `lang` attribute, unique
ids, code fields with `inputmode=numeric`, each error tied to its field, and the focus on arrival
and after an error. The account page's destructive actions are confirmed in a browser without
JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import RP_CALLBACK_PATH, Browser
from tests.browser.test_webauthn import RP, rp_client
from tests.support import PASSWORD, code_in_mail, enroll_totp, latest_mail, make_user, totp_now

AXE = Axe()
# The walk's size, then the other sizes each page is checked at (the page is resized in place:
# one walk, not one per size, since the flows and their clicks are the same at every size).
PHONE = {"width": 390, "height": 844}
SIZES = (PHONE, {"width": 1280, "height": 800})
NEW_PASSWORD = "four random words typed"

PAGE_FACTS = """() => {
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
  const codes = [...document.querySelectorAll('input[autocomplete="one-time-code"]')];
  const errors = [...document.querySelectorAll('.error')].filter(visible);
  const fields = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')];
  const described = new Set(fields.flatMap(
    (f) => (f.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean)));
  return {
    lang: document.documentElement.lang,
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: window.innerWidth,
    duplicateIds: ids.filter((id, i) => ids.indexOf(id) !== i),
    notNumeric: codes.filter((c) => c.inputMode !== 'numeric').map((c) => c.id),
    untiedErrors: fields.filter(visible).length === 0 ? [] : errors
      .filter((e) => !e.id || !described.has(e.id)).map((e) => e.textContent.trim().slice(0, 60)),
    invalidWithoutWords: fields.filter((f) => f.getAttribute('aria-invalid') === 'true'
      && !f.getAttribute('aria-describedby')).map((f) => f.id),
    focused: document.activeElement ? document.activeElement.id : null,
    errors: errors.length,
    openDialogs: document.querySelectorAll('details[open]').length,
  };
}"""


@dataclass
class Walk:
    """One person's browser at one size in one language, checking every page it lands on."""

    browser: Browser
    app: Any
    issuer: str
    language: str
    problems: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)
    scanned: set[tuple[str, int, int, int]] = field(default_factory=set)

    @property
    def page(self) -> Any:
        return self.browser.page

    @property
    def width(self) -> int:
        return int(self.page.viewport_size["width"])

    def at_each_size(self) -> Iterator[int]:
        """Resize the page to each of SIZES in turn, yielding its width; then back to the phone."""
        try:
            for size in SIZES:
                self.page.set_viewport_size(size)
                yield size["width"]
        finally:
            self.page.set_viewport_size(PHONE)

    def check(self, focus: str | None = None, *, numeric_codes: bool = True) -> None:
        """Check the page now shown at every size; `focus` is the id that must have the keyboard
        focus on arrival."""
        page = self.page
        page.wait_for_load_state()
        where = re.sub(r"\?.*", "", page.url.removeprefix(self.issuer))
        self.visited.append(where)

        def problem(text: str) -> None:
            self.problems.append(f"{where}: {text}")

        facts = page.evaluate(PAGE_FACTS)
        if facts["lang"] != self.language:
            problem(f"lang={facts['lang']!r}")
        if facts["duplicateIds"]:
            problem(f"duplicate ids {facts['duplicateIds']}")
        if facts["notNumeric"] and numeric_codes:
            problem(f"code fields without inputmode=numeric {facts['notNumeric']}")
        if facts["untiedErrors"]:
            problem(f"errors tied to no field {facts['untiedErrors']}")
        if facts["invalidWithoutWords"]:
            problem(f"invalid fields without a description {facts['invalidWithoutWords']}")
        if focus is not None and facts["focused"] != focus:
            # Autofocus lands at the next rendering step, which may come just after `load`.
            try:
                page.wait_for_function(
                    "(id) => document.activeElement && document.activeElement.id === id",
                    arg=focus,
                    timeout=1_000,
                )
            except PlaywrightTimeout:
                focused = page.evaluate("document.activeElement.id")
                problem(f"focus on {focused!r}, not #{focus}")
        # Layout and axe at each size, axe once per page, state and size (the fourth wrong code
        # looks like the first).
        for width in self.at_each_size():
            layout = page.evaluate(PAGE_FACTS)
            assert layout["innerWidth"] == width, f"{where}: resized to {layout['innerWidth']} px"
            if layout["scrollWidth"] > layout["innerWidth"]:
                problem(f"scrolls sideways at {width} px ({layout['scrollWidth']} px wide)")
            state = (where, facts["errors"], facts["openDialogs"], width)
            if state in self.scanned:
                continue
            self.scanned.add(state)
            for violation in axe_violations(page):
                problem(f"{violation} at {width} px")

    def submit(self, form: str = "form:has(#code)") -> None:
        """Press the submit button of the form holding `form`'s field."""
        self.page.click(f"{form} button[type=submit]")
        self.page.wait_for_load_state()

    def fresh_start(self) -> None:
        """A browser with no cookies. The page is left first: a request its script still has in
        flight (passkey autofill's options) would otherwise set a new sign-in cookie after the
        next page rendered its form, and that form's CSRF token would no longer match."""
        self.page.goto("about:blank")
        self.browser.context.clear_cookies()

    def password(self, email: str, password: str = PASSWORD) -> None:
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        self.submit("form:has(#password)")

    def totp_code(self, secret: str) -> str:
        """A code from the next 30-second step (a TOTP code is accepted once)."""
        self.app.extensions["idp.clock"].advance(seconds=30)
        return totp_now(secret, app=self.app)

    def allows_the_app(self) -> None:
        """A third-party app asks for consent at a user's first sign-in to it."""
        self.page.wait_for_selector("button[name=allow]")
        self.check()
        self.page.click("button[name=allow]")

    def arrives_at_rp(self, rp: RP) -> None:
        """Back at the app's callback with its state and a code it can redeem for an ID token.

        After a sign-in with a code the provider may first offer a passkey: checked, "Not now".
        """
        self.page.wait_for_url(lambda url: RP_CALLBACK_PATH in url or "/passkey-offer" in url)
        if "/passkey-offer" in self.page.url:
            self.check()
            self.page.click("button[name=answer][value=later]")
            self.page.wait_for_url(f"**{RP_CALLBACK_PATH}?**")
        assert "state=xyz" in self.page.url, self.page.url
        rp.finish(self.page.url)


def axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as shown; the engine is put into
    the page once (570 KB to parse), then run at each size."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.axe_script)
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]
    return [
        f"axe {v['id']} ({v['impact']}) at {[node['target'] for node in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def walk_in(language: str, live_app: Any, chromium: Any) -> Iterator[Walk]:
    """A Walk in a fresh browser, at a phone's size, in `language`."""
    app, issuer = live_app
    browser = Browser(chromium, locale=language, viewport=PHONE)
    yield Walk(browser, app, issuer, language)
    browser.close()


def enroll_with_an_app(walk: Walk, rp: RP, email: str) -> str:
    """First sign-in: wrong password, then the app, a wrong code, the right one; back in the RP."""
    page = walk.page
    page.goto(rp.authorize_url())
    walk.check(focus="email")
    page.click("main a[href*='/help']")
    walk.check()
    page.go_back()
    walk.password(email, "not the password")
    walk.check(focus="email")
    walk.password(email)
    page.wait_for_url("**/signin/enroll?**")
    walk.check()
    page.click("a[href*='/signin/enroll/totp']")
    walk.check(focus="code")
    assert page.get_attribute("#totp-open", "href").startswith("otpauth://totp/")
    secret = page.inner_text("#totp-key").replace(" ", "")
    page.fill("#code", "000000")
    walk.submit()
    walk.check(focus="code")
    page.fill("#code", walk.totp_code(secret))
    page.check("#remember")
    walk.submit()
    page.wait_for_url("**/signin/recovery-codes**")
    walk.check()
    walk.submit("main form")
    walk.allows_the_app()
    walk.arrives_at_rp(rp)
    return secret


def mailed_code_after_a_wrong_one(walk: Walk, email: str) -> None:
    """A wrong code keeps the focus on the field; then the code from the mail."""
    walk.check(focus="code")
    walk.page.fill("#code", "000000")
    walk.submit()
    walk.check(focus="code")
    walk.page.fill("#code", code_in_mail(walk.app, email))
    walk.submit()


def enroll_with_email(walk: Walk, rp: RP, email: str) -> str:
    """Codes by email; returns one of the recovery codes shown after it."""
    page = walk.page
    page.goto(rp.authorize_url())
    walk.password(email)
    page.wait_for_url("**/signin/enroll?**")
    page.click("a[href*='/signin/enroll/email']")
    mailed_code_after_a_wrong_one(walk, email)
    page.wait_for_url("**/signin/recovery-codes**")
    saved = page.inner_text("#recovery-codes li >> nth=0")
    walk.submit("main form")
    walk.allows_the_app()
    walk.arrives_at_rp(rp)
    return saved


def enroll_a_key(walk: Walk, rp: RP, email: str) -> None:
    page = walk.page
    page.goto(rp.authorize_url())
    walk.password(email)
    page.wait_for_url("**/signin/enroll?**")
    page.click("a[href*='/signin/enroll/webauthn']")
    mailed_code_after_a_wrong_one(walk, email)  # the mailbox confirms a first key
    page.wait_for_selector("button[data-webauthn=register]")
    walk.check(focus="key-name")
    page.click("button[data-webauthn=register]")
    page.wait_for_url("**/signin/recovery-codes**")
    walk.submit("main form")
    walk.allows_the_app()
    walk.arrives_at_rp(rp)


def account_page(walk: Walk, secret: str) -> None:
    """At any width, rename, remove and forget are on screen, and each removal asks first."""
    page = walk.page
    page.goto(walk.issuer + "/account/security")
    walk.check()
    controls = (
        "#factors tr[data-kind=totp] input[name=name]",
        "#factors tr[data-kind=totp] form button[type=submit]",
        "#factors tr[data-kind=totp] details.confirm > summary",
        ".devices details.confirm > summary",
        "#apps details.confirm > summary",
        "#sessions form button[type=submit]",
    )
    for width in walk.at_each_size():
        for control in controls:
            box = page.locator(control).first.bounding_box()
            if box is None or box["x"] < 0 or box["x"] + box["width"] > width:
                walk.problems.append(f"/account/security: {control} off screen at {width} px {box}")
    summary = page.locator("#factors tr[data-kind=totp] details.confirm > summary").first
    summary.click()
    confirm = page.locator("#factors tr[data-kind=totp] details[open] button.danger").first
    assert confirm.is_visible()
    for width in walk.at_each_size():
        box = confirm.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width, (width, box)
    walk.check()
    summary.click()  # closes again: nothing removed
    assert page.locator("#factors tr[data-kind=totp]").count() == 2

    # Rename: an empty name is refused on the spot, on the field; a new one is kept.
    name = (
        page.locator("#factors tr[data-kind=totp]")
        .filter(has_text="Tablet")
        .locator("input[name=name]")
    )
    name.fill("")
    name.press("Enter")
    assert page.evaluate("document.activeElement.validity.valueMissing"), "said on the field"
    name.fill("Work tablet")
    name.press("Enter")
    page.wait_for_load_state()
    walk.check()
    assert page.locator("#factors tr[data-kind=totp]").filter(has_text="Work tablet").count() == 1

    # A wrong current password: said next to the field, which has the focus.
    page.fill("#current", "not the password")
    page.fill("#new", NEW_PASSWORD)
    walk.submit("form:has(#current)")
    walk.check(focus="current")

    # Ten minutes on, removing asks for the second step again, then comes back to this page.
    walk.app.extensions["idp.clock"].advance(minutes=11)
    tablet = page.locator("#factors tr[data-kind=totp]").filter(has_text="Work tablet")
    tablet.locator("details.confirm > summary").click()
    tablet.locator("button.danger").click()
    page.wait_for_url("**/account/verify?**")
    walk.check(focus="code")
    page.fill("#code", walk.totp_code(secret))
    walk.submit()
    page.wait_for_url("**/account/security?confirmed=1")
    walk.check()
    assert page.locator("main .notice").count() == 1, "says to press the button again"


def confirm_without_javascript(walk: Walk, chromium: Any) -> None:
    """The same session in a browser with JavaScript off: each confirmation still works."""
    state = walk.browser.context.storage_state()
    context = chromium.new_context(
        storage_state=state,
        java_script_enabled=False,
        locale=walk.language,
        viewport=PHONE,
    )
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(walk.issuer + "/account/security")
        page.locator(".devices details.confirm > summary").first.click()
        page.locator(".devices button.danger").first.click()
        page.wait_for_load_state()
        assert page.locator("#no-devices").count() == 1, "device forgotten"

        tablet = page.locator("#factors tr[data-kind=totp]").filter(has_text="Work tablet")
        tablet.locator("details.confirm > summary").click()
        tablet.locator("button.danger").click()
        page.wait_for_load_state()
        assert page.locator("#factors tr[data-kind=totp]").count() == 1, "the tablet removed"

        everywhere = page.locator("details.confirm:has(form[action$='/sign-out-everywhere'])")
        everywhere.locator("summary").click()
        everywhere.locator("button.danger").click()
        page.wait_for_load_state()
        page.goto(walk.issuer + "/account/security")
        assert "/signin" in page.url, f"signed out everywhere, yet {page.url}"
    finally:
        context.close()


def challenged_by(walk: Walk, rp: RP, email: str, *, key: bool) -> None:
    """A later sign-in asks for the key, or for a code by email."""
    page = walk.page
    walk.fresh_start()
    page.goto(rp.authorize_url())
    walk.password(email)
    page.wait_for_url("**/signin/verify?**")
    if key:
        walk.check()
        page.click("button[data-webauthn=authenticate]")
    else:
        walk.check(focus="code")
        page.fill("#code", code_in_mail(walk.app, email))
        walk.submit()
    walk.arrives_at_rp(rp)


def fifth_wrong_code(walk: Walk, rp: RP, email: str) -> None:
    """Four wrong codes keep the focus on the field; the fifth ends the sign-in and says why."""
    page = walk.page
    walk.fresh_start()
    page.goto(rp.authorize_url())
    walk.password(email)
    page.wait_for_url("**/signin/verify?**")
    walk.check(focus="code")
    for _ in range(4):
        page.fill("#code", "000000")
        walk.submit()
        walk.check(focus="code")
    page.fill("#code", "000000")
    walk.submit()
    walk.check()
    reason = page.inner_text("#ended-reason")
    assert "5" in reason and ("sign-in" in reason or "inicio de sesión" in reason), reason
    assert page.locator("#code").count() == 0
    page.click("main a[href*='/signin?rid=']")
    walk.check(focus="email")
    assert page.locator(".client").count() == 1, "still signing in to the app"


def reset_link(walk: Walk, email: str) -> str:
    """Ask for a reset link from the app's sign-in page; the link from the mail."""
    page = walk.page
    page.click("a[href*='/signin/forgot']")
    walk.check(focus="email")
    page.fill("#email", email)
    walk.submit("form:has(#email)")
    walk.check()
    link = re.search(r"https?://[^/\s]+(/signin/reset/\S+)", latest_mail(walk.app, email))
    assert link, "a reset link in the mail"
    return walk.issuer + link.group(1)


def reset_with_a_recovery_code(walk: Walk, rp: RP, email: str, recovery_code: str) -> None:
    """Codes by email only: the link came by mail, so a saved recovery code proves the rest."""
    page = walk.page
    walk.fresh_start()
    page.goto(rp.authorize_url())
    page.goto(reset_link(walk, email))
    walk.check(focus="code", numeric_codes=False)  # recovery codes have letters
    page.fill("#code", recovery_code)
    walk.submit()
    walk.check(focus="password")
    page.fill("#password", NEW_PASSWORD)
    walk.submit("form:has(#password)")
    page.wait_for_url("**/signin?rid=**")
    walk.check(focus="email")
    assert page.locator(".client").count() == 1, "back in the app's sign-in"


def reset_then_back_to_the_app(walk: Walk, rp: RP, email: str, secret: str) -> None:
    """Forgot password from the app's sign-in: the reset ends where the user started."""
    page = walk.page
    walk.app.extensions["idp.clock"].advance(minutes=2)  # the wait after five wrong codes
    walk.fresh_start()
    page.goto(rp.authorize_url())
    page.goto(reset_link(walk, email))
    walk.check(focus="code")
    page.fill("#code", "000000")
    walk.submit()
    walk.check(focus="code")
    walk.app.extensions["idp.clock"].advance(minutes=5)  # six wrong codes in all: a longer wait
    page.fill("#code", walk.totp_code(secret))
    walk.submit()
    walk.check(focus="password")
    page.fill("#password", "short")
    walk.submit("form:has(#password)")
    walk.check(focus="password")
    page.fill("#password", NEW_PASSWORD)
    walk.submit("form:has(#password)")
    page.wait_for_url("**/signin?rid=**")
    walk.check(focus="email")
    walk.password(email, NEW_PASSWORD)
    page.wait_for_url("**/signin/verify?**")
    page.fill("#code", walk.totp_code(secret))
    walk.submit()
    walk.arrives_at_rp(rp)


def the_walk(walk: Walk, chromium: Any) -> None:
    """Every flow, checking every page on the way; fails with the list of problems."""
    app = walk.app
    rp = rp_client(app, walk.issuer, first_party=False)  # asks for consent
    ada = make_user(app, "ada@example.com")
    make_user(app, "mia@example.com")
    make_user(app, "kim@example.com")

    secret = enroll_with_an_app(walk, rp, "ada@example.com")
    enroll_totp(app, ada.id, name="Tablet")
    account_page(walk, secret)
    confirm_without_javascript(walk, chromium)

    walk.fresh_start()
    saved = enroll_with_email(walk, RP(walk.issuer, "rp", rp.secret), "mia@example.com")
    challenged_by(walk, RP(walk.issuer, "rp", rp.secret), "mia@example.com", key=False)

    # Kim's key lives in a browser of its own: the sign-in page's passkey autofill would
    # otherwise sign this browser in as Kim before anyone else typed a password.
    kims = Walk(
        Browser(chromium, locale=walk.language, viewport=PHONE), app, walk.issuer, walk.language
    )
    try:
        enroll_a_key(kims, RP(walk.issuer, "rp", rp.secret), "kim@example.com")
        # A key that is not a passkey (not discoverable): the password, then the key.
        [credential] = kims.browser.credentials()
        kims.browser.replace_credential({**credential, "isResidentCredential": False})
        challenged_by(kims, RP(walk.issuer, "rp", rp.secret), "kim@example.com", key=True)
    finally:
        kims.browser.close()
        walk.problems += kims.problems
        walk.visited += kims.visited
    reset_with_a_recovery_code(walk, RP(walk.issuer, "rp", rp.secret), "mia@example.com", saved)
    fifth_wrong_code(walk, RP(walk.issuer, "rp", rp.secret), "ada@example.com")
    reset_then_back_to_the_app(walk, RP(walk.issuer, "rp", rp.secret), "ada@example.com", secret)

    assert not walk.problems, "\n".join(walk.problems)
    assert len(walk.visited) >= 25, walk.visited
