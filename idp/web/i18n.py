"""Which language a page speaks, and the switch that changes it.

OIDC Core 3.1.2.1: `ui_locales` is the relying party's hint, "space-separated list of BCP47
language tag values, ordered by preference". The order here: the user's switch when used since
this sign-in began, then `ui_locales`, then the switch's earlier choice, then the language saved
on the user's profile, then the browser's `Accept-Language`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, g, has_request_context, redirect, request
from flask_babel import Babel, get_locale, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from werkzeug.wrappers import Response  # what redirect() returns

from idp import local_time
from idp.clock import epoch, now
from idp.translations import LANGUAGES, compile_catalogues, supported
from idp.web import browser, current
from idp.web.guards import local_path
from idp.web.session import cookie_name, read_cookie

NAMES = {"en": "English", "es": "Español"}
LANGUAGE_COOKIE = "idp_lang"
LANGUAGE_COOKIE_DAYS = 400  # browsers cap cookie lifetimes near this
PAGE_CATALOGUE = "idp_catalogue"  # the template context's name for the page's catalogue

bp = Blueprint("i18n", __name__)


def first_supported(tags: str | None) -> str | None:
    """The first supported language of a space-separated list (`ui_locales`)."""
    for tag in (tags or "").split()[:20]:
        if found := supported(tag):
            return found
    return None


def _switched() -> tuple[str, datetime] | None:
    """The language the switch set in this browser, and when."""
    secure = current_app.extensions["idp.settings"].secure_cookies
    value = read_cookie(request, LANGUAGE_COOKIE, secure=secure) or ""
    language, _, at = value.partition(".")
    if supported(language) != language:
        return None
    try:
        return language, datetime.fromtimestamp(int(at[:12]), UTC).replace(tzinfo=None)
    except ValueError:
        return language, datetime.min


def _ui_locales() -> tuple[str | None, datetime | None]:
    """`ui_locales` of the authorization request at hand (at /authorize, or kept under `rid`)."""
    if "ui_locales" in request.args and request.endpoint == "provider.authorize":
        return first_supported(request.args.get("ui_locales")), None
    entry = browser.pending_request(request.args.get("rid"))
    if entry is None:
        return None, None
    params, started_at = entry
    return first_supported(params.get("ui_locales")), started_at


def _profile_language() -> str | None:
    user = current.user()
    return supported(user.locale) if user is not None else None


def choose_locale() -> str:
    """Flask-Babel's locale selector (see the module docstring for the order)."""
    if not has_request_context():
        return LANGUAGES[0]  # the worker or the CLI; mail to an account with a language uses it
    if g.get("idp_unavailable"):
        # The database is away: no session, no user; the browser's preference is all we have.
        return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]
    switched = _switched()
    hinted, started_at = _ui_locales()
    # The cookie keeps whole seconds: a switch in the request's first second still counts.
    if switched and started_at and switched[1] >= started_at.replace(microsecond=0):
        return switched[0]
    return (
        hinted
        or (switched[0] if switched else None)
        or _profile_language()
        or request.accept_languages.best_match(LANGUAGES)
        or LANGUAGES[0]
    )


def language() -> str:
    """The language of this response (for `<html lang>` and the switch)."""
    return str(get_locale() or LANGUAGES[0])


def viewer_zone() -> str | None:
    """The signed-in viewer's saved time zone (None: times read in UTC)."""
    if not has_request_context() or g.get("idp_unavailable"):
        return None
    user = current.user()
    return user.time_zone if user is not None else None


def local_datetime(at: datetime) -> str:
    """Template filter: `30 Nov 2026, 16:05 EST`, in the viewer's zone and language."""
    return local_time.written(at, zone=viewer_zone(), locale=language())


def local_date(at: datetime) -> str:
    """Template filter: `30 Nov 2026`, the day it was in the viewer's zone."""
    return local_time.written_date(at, zone=viewer_zone(), locale=language())


def this_page() -> str:
    """Where the switch comes back to: this path and the sign-in it serves (`rid`), nothing
    else from the query (an error page's query may hold a URL we refused to follow)."""
    rid = request.args.get("rid")
    return request.path + (f"?{urlencode({'rid': rid})}" if rid else "")


@bp.post("/language")
def switch() -> Response:
    """Remember the language picked on the switch (a CSRF-protected form) and go back."""
    # Only a path on this site: the switch is never an open redirect.
    response = redirect(local_path(request.form.get("next"), "/help"), code=303)
    language = supported(request.form.get("language"))
    if language is None:
        return response
    secure = current_app.extensions["idp.settings"].secure_cookies
    response.set_cookie(
        cookie_name(LANGUAGE_COOKIE, secure=secure),
        f"{language}.{epoch(now())}",
        max_age=LANGUAGE_COOKIE_DAYS * 86400,
        httponly=True,
        secure=secure,
        samesite="Lax",
        path="/",
    )
    return response


def _translations() -> Any:
    """Flask-Babel's catalogue, kept on `g` while the locale is the same object (`force_locale`
    and `refresh` give another one, so the catalogue is looked up again)."""
    locale = get_locale()
    if locale is None:  # no app context: Flask-Babel's empty catalogue
        return get_translations()
    kept = g.get("idp_translations")
    if kept is not None and kept[0] is locale:
        return kept[1]
    translations = get_translations()
    g.idp_translations = (locale, translations)
    return translations


def _catalogue(context: Context) -> Any:
    """The page's catalogue (inject_languages), else Flask-Babel's for a template rendered
    without Flask's context processors."""
    found = context.get(PAGE_CATALOGUE)
    return found if found is not None else _translations()


def init_i18n(app: Flask) -> None:
    """Flask-Babel with our locale selector, the catalogues compiled, the switch's route."""
    compile_catalogues()
    # Whitespace inside {% trans %} is layout, not text: catalogue entries stay one line.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    Babel(app, locale_selector=choose_locale, default_translation_directories="translations")
    # Templates ask for a translation a dozen times a page; Flask-Babel looks the catalogue up
    # afresh each time (domain, cache, the locale's name): 0.23 -> 0.15 ms for 14 lookups, and
    # with the page's catalogue read once (inject_languages) ~0.04 ms less again.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=pass_context(lambda c, s: _catalogue(c).ugettext(s)),
        ngettext=pass_context(lambda c, s, p, n: _catalogue(c).ungettext(s, p, n)),
        newstyle=True,
        pgettext=pass_context(lambda c, x, s: _catalogue(c).upgettext(x, s)),
        npgettext=pass_context(lambda c, x, s, p, n: _catalogue(c).unpgettext(x, s, p, n)),
    )
    app.register_blueprint(bp)

    app.add_template_filter(local_datetime)
    app.add_template_filter(local_date)

    @app.context_processor
    def inject_languages() -> dict[str, object]:
        # The page's language and catalogue, read once for the whole page (Flask-Babel's
        # get_locale costs a few us each time, and a page asks a dozen times).
        spoken, catalogue = language(), _translations()
        return {
            "language": lambda: spoken,
            "language_names": NAMES,
            "this_page": this_page,
            PAGE_CATALOGUE: catalogue,
        }
