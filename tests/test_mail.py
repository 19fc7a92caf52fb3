"""Mail: queued by send(), delivered by the worker to the outbox folder, or SMTP (aiosmtpd)."""

from __future__ import annotations

import logging
import re
import socket
import ssl
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from flask import Flask
from sqlalchemy import select, update

from idp import mail
from idp.clock import Clock
from idp.extensions import db
from idp.models.mail_message import MailMessage
from idp.worker import drain
from tests.certificates import self_signed_certificate
from tests.support import make_user

HOST = "127.0.0.1"
LOGIN = ("mailer@idp.example", "p@ss:w/rd")
CREDENTIALS = "mailer%40idp.example:p%40ss%3Aw%2Frd"  # LOGIN, percent-encoded for the URL

# Each template with the context its callers pass.
TEMPLATES: dict[str, dict[str, Any]] = {
    "email_code": {"code": "042137", "minutes": 10, "purpose": "sign in"},
    "factor_added": {"method_name": "Authenticator app"},
    "factor_removed": {"method_name": "Security key"},
    "recovery_code_used": {"remaining": 3},
    "password_reset": {"link": "http://localhost/password/reset/abc", "minutes": 30},
    "password_changed": {},
}


def parse(raw: bytes) -> EmailMessage:
    """A message as a mail client would read it."""
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw))


def deliver(app: Flask) -> None:
    """Run the mail worker once (the app context is already pushed)."""
    drain(app.extensions["idp.settings"])


def outbox_files(app: Flask) -> list[Path]:
    """The .eml files in the app's outbox folder."""
    return sorted(Path(app.extensions["idp.settings"].outbox_dir).glob("*.eml"))


# --- the outbox (default) ---------------------------------------------------------------------


def test_send_queues_and_the_worker_writes_one_eml_file_to_the_outbox(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with app.app_context(), caplog.at_level(logging.INFO, logger="idp.mail"):
        mail.send("ada@example.com", "email_code", **TEMPLATES["email_code"])
        assert outbox_files(app) == [], "send() only queues"
        deliver(app)

    [path] = outbox_files(app)
    assert re.fullmatch(r"\d{8}T\d{12}Z-[0-9a-f]{8}\.eml", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    message = parse(path.read_bytes())
    assert message["To"] == "ada@example.com"
    assert message["From"] == "no-reply@localhost"
    assert message["Subject"] == "Your code to sign in"
    assert message["Date"] and message["Message-ID"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "042137" in body and "10 minutes" in body
    assert "help@insurer.example" in body and "Secure Sign-in" in body
    assert [r.getMessage() for r in caplog.records if r.name == "idp.mail"] == [
        f"mail to=a***@example.com subject=Your code to sign in file={path.name}"
    ]


def test_a_queued_message_is_sealed_and_one_queued_in_clear_still_goes(app: Flask) -> None:
    """A database dump shows no code or link of a message waiting for the worker; messages
    queued before sealing (an upgrade) are delivered as they are."""
    with app.app_context():
        mail.send("ada@example.com", "email_code", **TEMPLATES["email_code"])
        stored = stored_message(app)
        assert "042137" not in stored and "ada@example.com" not in stored
        plain = mail.compose(
            "bob@example.com", "email_code", **{**TEMPLATES["email_code"], "code": "550123"}
        )
        db.session.execute(update(MailMessage).values(raw=plain.as_bytes().decode()))
        mail.send("ada@example.com", "email_code", **TEMPLATES["email_code"])
        db.session.commit()
        deliver(app)
    bodies = [
        parse(p.read_bytes()).get_body(preferencelist=("plain",)).get_content()
        for p in outbox_files(app)
    ]
    assert sorted("550123" in b for b in bodies) == [False, True]
    assert all("042137" in b or "550123" in b for b in bodies)


def test_outbox_messages_are_listed_newest_first(app: Flask, clock: Clock) -> None:
    with app.app_context():
        assert mail.outbox_messages() == []
        mail.send("ada@example.com", "password_changed")
        clock.advance(seconds=1)
        mail.send("bob@example.com", "factor_added", method_name="Authenticator app")
        deliver(app)
        messages = mail.outbox_messages()
        assert [m.to for m in mail.outbox_messages(limit=1)] == ["bob@example.com"]

    assert [m.to for m in messages] == ["bob@example.com", "ada@example.com"]
    assert messages[0].subject == "A new way to sign in was added to your account"
    assert "Authenticator app" in messages[0].body
    assert messages[0].name == outbox_files(app)[-1].name


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_renders_a_subject_support_and_no_foreign_link(
    app: Flask, template: str
) -> None:
    with app.app_context():
        mail.send("ada@example.com", template, **TEMPLATES[template])
        deliver(app)
        [message] = mail.outbox_messages()

    assert message.subject and "\n" not in message.subject
    prose = " ".join(message.body.split())
    assert "If this wasn't you" in prose
    assert re.search(r"contact your help desk( straight away)?\.", prose)
    assert "Help desk: help@insurer.example The Secure Sign-in team" in prose
    assert " UTC" in prose  # says when
    assert message.body.rstrip().endswith("The Secure Sign-in team")
    for link in re.findall(r"https?://\S+", message.body):
        assert link.startswith("http://localhost/"), link


def test_recovery_code_mail_says_when_none_are_left(app: Flask) -> None:
    with app.app_context():
        mail.send("ada@example.com", "recovery_code_used", remaining=0)
        deliver(app)
        [message] = mail.outbox_messages()

    assert "no recovery codes left" in message.body
    assert "\n\n\n" not in message.body


# --- SMTP against a real server ---------------------------------------------------------------


@dataclass
class Received:
    """One message as the server got it, and how the connection looked."""

    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    authenticated: bool


@dataclass
class Collector:
    """An aiosmtpd handler and authenticator that keeps what it is given."""

    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message; note whether it came over TLS and after AUTH."""
        self.received.append(
            Received(
                rcpt_tos=list(envelope.rcpt_tos),
                message=parse(envelope.original_content),
                tls=server.transport.get_extra_info("cipher") is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 OK"

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """Accept only LOGIN; remember every attempt."""
        assert isinstance(auth_data, LoginPassword)
        attempt = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(attempt)
        return AuthResult(success=attempt == LOGIN)


@dataclass
class Relay:
    """A running SMTP server and the IDP_SMTP_URL that points at it."""

    url: str
    collector: Collector


# kind -> (IDP_SMTP_URL, server's TLS: None | "starttls" | "implicit", server asks for AUTH)
RELAYS: dict[str, tuple[str, str | None, bool]] = {
    "plain": ("smtp://{host}:{port}", None, False),
    "plain-auth": (f"smtp://{CREDENTIALS}@{{host}}:{{port}}", None, True),
    "starttls": (f"smtp+starttls://{CREDENTIALS}@{{host}}:{{port}}?verify=false", "starttls", True),
    "smtps": (f"smtps://{CREDENTIALS}@{{host}}:{{port}}?verify=false", "implicit", True),
    "starttls-verified": ("smtp+starttls://{host}:{port}", "starttls", False),
    "starttls-not-offered": ("smtp+starttls://{host}:{port}?verify=false", None, False),
    "down": ("smtp://{host}:{port}", None, False),  # nothing listens
}


def free_port() -> int:
    """A TCP port nobody listens on right now (aiosmtpd cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    cert_path, key_path = self_signed_certificate(folder, HOST)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


@pytest.fixture
def relay(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Relay]:
    """A real SMTP server on 127.0.0.1; request.param names a RELAYS kind."""
    url, tls, auth = RELAYS[request.param]
    collector = Collector()
    options: dict[str, Any] = {}
    if auth:
        # Over plain SMTP the test must allow AUTH without TLS; with STARTTLS it must come after.
        options.update(
            authenticator=collector, auth_required=True, auth_require_tls=tls is not None
        )
    if tls == "starttls":
        options.update(tls_context=self_signed_context(tmp_path), require_starttls=True)
    if tls == "implicit":
        options.update(ssl_context=self_signed_context(tmp_path), auth_require_tls=False)
    port = free_port()
    if request.param == "down":
        yield Relay(url.format(host=HOST, port=port), collector)
        return
    controller = Controller(collector, hostname=HOST, port=port, **options)
    controller.start()
    try:
        yield Relay(url.format(host=HOST, port=port), collector)
    finally:
        controller.stop()


@pytest.fixture
def overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Deliver over SMTP to the test's relay when it has one, else to the outbox."""
    if "relay" in request.fixturenames:
        return {"smtp_url": request.getfixturevalue("relay").url}
    return {}


def send_one(app: Flask) -> None:
    """Queue the email-code message to Ada, then run the worker once."""
    with app.app_context():
        mail.send("ada@example.com", "email_code", **TEMPLATES["email_code"])
        deliver(app)


def stored_message(app: Flask) -> str:
    """The queued message's RFC 5322 text."""
    with app.app_context():
        return db.session.scalars(select(MailMessage.raw)).one()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize(
    ("relay", "tls", "logins"),
    [
        ("plain", False, []),
        ("plain-auth", False, [LOGIN]),
        ("starttls", True, [LOGIN]),
        ("smtps", True, [LOGIN]),
    ],
    indirect=["relay"],
)
def test_smtp_delivers_with_the_transport_the_url_names(
    app: Flask, relay: Relay, tls: bool, logins: list[tuple[str, str]]
) -> None:
    send_one(app)

    [received] = relay.collector.received
    assert received.rcpt_tos == ["ada@example.com"]
    assert received.message["Subject"] == "Your code to sign in"
    assert "042137" in received.message.get_body(preferencelist=("plain",)).get_content()
    assert received.tls is tls
    assert relay.collector.logins == logins
    assert received.authenticated is bool(logins)
    assert outbox_files(app) == []


@pytest.mark.parametrize("relay", ["starttls-verified", "starttls-not-offered"], indirect=True)
def test_smtp_never_falls_back_to_an_unverified_or_plain_connection(
    app: Flask, relay: Relay
) -> None:
    send_one(app)

    assert relay.collector.received == []
    with app.app_context(), pytest.raises(mail.MailNotSent):
        mail.deliver(app.extensions["idp.settings"], stored_message(app))


@pytest.mark.parametrize("relay", ["down"], indirect=True)
def test_an_unreachable_server_is_a_mail_not_sent_error_and_the_message_stays_queued(
    app: Flask, relay: Relay
) -> None:
    send_one(app)

    with app.app_context(), pytest.raises(mail.MailNotSent):
        mail.deliver(app.extensions["idp.settings"], stored_message(app))


def test_mail_written_outside_a_request_speaks_the_recipients_saved_language(app: Flask) -> None:
    """The CLI and the worker have no page to take a language from: the account's is used."""
    make_user(app, "ana@example.com", name="Ana Ruiz", locale="es", time_zone="America/Bogota")
    make_user(app, "bob@example.com", name="Bob Stone")
    with app.app_context():
        spanish = mail.text_of(mail.compose("ana@example.com", "mfa_reset", name="Ana Ruiz"))
        english = mail.text_of(mail.compose("bob@example.com", "mfa_reset", name="Bob Stone"))
    assert spanish.startswith("Hola, Ana Ruiz:")
    assert re.search(r"El \d{1,2} de [a-z]+ de \d{4}, \d\d:\d\d UTC-05 un", spanish)  # Bogotá
    assert english.startswith("Hello Bob Stone,") and " UTC, an administrator" in english
