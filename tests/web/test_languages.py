"""Pages in English or Spanish: ui_locales, then the switch, then Accept-Language; mail in the
account's saved language, else the page's."""

from __future__ import annotations

import re

from tests.support import (
    RelyingParty,
    SignInFlow,
    csrf_of,
    enroll_totp,
    latest_mail,
    make_client,
    make_user,
    submit,
)
from tests.web.test_admin_helpers import post_form, signed_in_admin


def lang_of(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, "no lang attribute on <html>"
    return match.group(1)


def switch(browser, page, language: str, next_url: str):
    return browser.post(
        "/language",
        data={"csrf_token": csrf_of(page), "language": language, "next": next_url},
    )


def start(app, client, **extra: str) -> SignInFlow:
    make_client(app)
    make_user(app)
    flow = SignInFlow(client, RelyingParty(client))
    flow.start(**extra)
    return flow


def test_ui_locales_es_gives_the_spanish_sign_in_page(app, client):
    flow = start(app, client, ui_locales="fr-CA es-MX en")
    page = flow.follow()
    assert page.status_code == 200
    assert lang_of(page.text) == "es"
    assert "<h1>Iniciar sesión</h1>" in page.text
    assert "Correo electrónico" in page.text
    assert "¿Olvidó su contraseña?" in page.text
    assert "Ayuda para iniciar sesión" in page.text  # base.html's footer too
    assert "Sign in" not in page.text


def test_without_a_hint_the_sign_in_page_is_english(app, client):
    page = start(app, client).follow()
    assert lang_of(page.text) == "en"
    assert "<h1>Sign in</h1>" in page.text
    assert re.search(r'value="es" lang="es"[^>]*>Español</button>', page.text)  # the switch


def test_wrong_password_message_in_spanish(app, client):
    flow = start(app, client, ui_locales="es")
    url = flow.location
    form = client.get(url)
    response = client.post(
        url,
        data={"csrf_token": csrf_of(form), "email": "ada@example.com", "password": "wrong-1x"},
    )
    assert response.status_code == 401
    assert "no coinciden con nuestros registros" in response.text
    assert lang_of(response.text) == "es"


def test_accept_language_es(app, client):
    page = client.get("/signin", headers={"Accept-Language": "es-US,es;q=0.9,en;q=0.5"})
    assert lang_of(page.text) == "es"
    assert "<h1>Iniciar sesión</h1>" in page.text
    english = client.get("/signin", headers={"Accept-Language": "de, en;q=0.5"})
    assert lang_of(english.text) == "en"


def test_the_switch_persists_across_pages(client):
    page = client.get("/signin", headers={"Accept-Language": "en"})
    response = switch(client, page, "es", "/signin?x=1")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/signin?x=1")
    assert "idp_lang=es." in response.headers["Set-Cookie"]
    for path in ("/signin", "/help", "/signin/forgot"):
        later = client.get(path, headers={"Accept-Language": "en"})
        assert lang_of(later.text) == "es", path
    assert "Ayuda para iniciar sesión" in client.get("/help").text
    switch(client, client.get("/help"), "en", "/help")
    assert lang_of(client.get("/help", headers={"Accept-Language": "es"}).text) == "en"


def test_the_switch_wins_over_ui_locales_once_used(app, client):
    flow = start(app, client, ui_locales="es")
    page = flow.follow()
    assert lang_of(page.text) == "es"
    switch(client, page, "en", flow.location or "/signin")
    rid_url = re.search(r'name="next" value="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    assert "rid=" in rid_url
    assert lang_of(client.get(rid_url).text) == "en"


def test_the_switch_comes_back_with_the_sign_in_but_nothing_else_from_the_query(client):
    page = client.get("/help?rid=abc&next=https://evil.example/")
    assert 'name="next" value="/help?rid=abc"' in page.text
    assert "evil.example" not in page.text


def test_the_switch_needs_its_csrf_token_and_stays_on_this_site(client):
    refused = client.post("/language", data={"language": "es", "next": "/help"})
    assert refused.status_code == 400
    assert "Set-Cookie" not in refused.headers or "idp_lang" not in refused.headers["Set-Cookie"]
    page = client.get("/help")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "help"):
        response = switch(client, page, "es", target)
        assert response.headers["Location"].endswith("/help"), target
    ignored = switch(client, page, "fr", "/help")
    assert "Set-Cookie" not in ignored.headers


def test_mail_goes_out_in_the_page_language(app, client):
    make_user(app)
    client.get("/signin/forgot", headers={"Accept-Language": "es"})
    submit(client, "/signin/forgot", {"email": "ada@example.com"})
    page = client.get("/signin/forgot")
    switch(client, page, "es", "/signin/forgot")
    submit(client, "/signin/forgot", {"email": "ada@example.com"})
    body = latest_mail(app, "ada@example.com")
    assert "Hola:" in body
    assert "abra este enlace" in body
    assert "El equipo de" in body
    assert re.search(r"El \d{1,2} de [a-z]+ de \d{4}, \d\d:\d\d UTC", body)  # no "November"


def test_discovery_lists_the_languages_we_have(client):
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["ui_locales_supported"] == ["en", "es"]
    assert document["claims_locales_supported"] == ["en"]


def test_the_security_key_scripts_messages_come_in_the_page_language(client):
    """webauthn.js shows what the page hands it: its own English is only a last resort."""
    import html

    def words(language: str) -> dict[str, str]:
        page = client.get("/signin", headers={"Accept-Language": language}).get_data(as_text=True)
        tag = re.search(r"<script[^>]*data-webauthn-messages[^>]*>", page)
        assert tag, "the script tag carries the messages"
        return {k: html.unescape(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', tag[0])}

    spanish = words("es")
    assert spanish["cancelled"] == (
        "La solicitud se canceló o se agotó el tiempo. Inténtelo de nuevo."
    )
    assert spanish["duplicate"].startswith("Esta llave de seguridad")
    assert spanish["failed"] == "Algo salió mal. Inténtelo de nuevo."
    assert spanish["key-name"] == "Llave de seguridad"
    assert words("en")["failed"] == "Something went wrong. Please try again."


def test_mail_goes_in_the_language_saved_on_the_account_whoever_causes_it(app, client):
    """An admin's English console (and a page in English) do not choose the reader's language."""
    user = make_user(
        app, "ana@example.com", name="Ana Ruiz", locale="es-MX", time_zone="Europe/Madrid"
    )
    enroll_totp(app, user.id)
    make_user(app, "bob@example.com", name="Bob Stone")  # nothing saved
    signed_in_admin(app, client)  # the console speaks English
    post_form(client, f"/admin/users/{user.subject}/reset-mfa", {"confirmed": "yes"})
    body = latest_mail(app, "ana@example.com")
    assert "Hola, Ana Ruiz:" in body and "un administrador restableció" in body
    assert re.search(r"El \d{1,2} de [a-z]+ de \d{4}, \d\d:\d\d CES?T", body)  # Madrid, in Spanish
    assert "Hello" not in body and "administrator" not in body

    for email in ("ana@example.com", "bob@example.com"):  # pages in English
        submit(client, "/signin/forgot", {"email": email})
    assert "abra este enlace" in latest_mail(app, "ana@example.com")
    assert "open this link" in latest_mail(app, "bob@example.com")  # the page's, as before
