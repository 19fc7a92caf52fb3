"""Outgoing mail: send(to, template, **ctx) queues; `idp worker` delivers to the folder or SMTP.

Every message is multipart/alternative: templates/mail/<template>.txt is the text/plain part,
and templates/mail/_layout.html shows the same paragraphs, links and codes as text/html, in
the branding of the sign-in it belongs to. The HTML loads nothing remote: no scripts, no
stylesheets, and the logo, when there is one, is attached (multipart/related, cid:).

send() renders the message and inserts it into the outbox table, in the caller's transaction: a
request never waits for, or fails because of, a mail server, so neither its time nor its status
says whether an account exists. deliver() is the transport the worker (idp/worker.py) calls.

IDP_SMTP_URL picks the transport, explicitly (never "TLS if the server happens to offer it"):
  smtp+starttls://user:pass@host:587   STARTTLS required; fails if the server does not offer it
  smtps://user:pass@host:465           implicit TLS
  smtp://host:25                       plain, for a relay on localhost or a private network
User and password are percent-decoded and used to log in. `?verify=false` turns off certificate
verification: for tests against a self-signed server only, never in production.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import smtplib
import ssl
import textwrap
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app, has_app_context, render_template
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l

from idp import local_time
from idp.branding import Brand, global_brand, global_logo
from idp.clock import now
from idp.config import Settings
from idp.errors import IdpError
from idp.extensions import db
from idp.logging_setup import mask_email
from idp.metrics import count_mail
from idp.models.client_logo import ClientLogo
from idp.models.mail_message import QUEUED, MailMessage
from idp.models.sealing import seal, unseal
from idp.models.user import User
from idp.translations import supported

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
# The HTML part loads nothing remote: the logo travels with the mail, if it is small enough.
LOGO_CID = "logo@idp"
# Queued messages are sealed for this purpose (idp.models.sealing); a Fernet token's version
# byte (0x80) makes every one start so, which no RFC 5322 header does.
SEAL = "mail"
FERNET_PREFIX = "gAAAAA"
MAX_INLINE_LOGO_BYTES = 100 * 1024


class MailNotSent(IdpError):
    """The mail server refused the message or could not be reached."""

    code = "mail_not_sent"
    status = 503
    message = _l("We couldn't send you an email just now. Please try again in a few minutes.")


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message in the outbox folder, as the development outbox page shows it."""

    name: str
    to: str
    subject: str
    date: str
    body: str


def written_time(at: datetime, zone: str | None = None) -> str:
    """A naive-UTC time as mail prose says it, in the message's language (`30 de noviembre…`)
    and the reader's time zone, named (UTC when unknown)."""
    locale = get_locale() if has_app_context() else None
    return local_time.written_long(at, zone=zone, locale=str(locale or "en"))


def recipient_language(recipient: User | None) -> str | None:
    """The language saved on the recipient's account (its `locale`), if we speak it.

    It outranks the language of the page that caused the mail: that page may be an admin's
    console, the CLI, the worker, or someone mistyping a password, not the reader's choice.
    """
    return supported(recipient.locale) if recipient is not None else None


def send(to: str, template: str, *, commit: bool = True, **ctx: Any) -> None:
    """Render templates/mail/<template>.txt (given ctx and `sent_at`) and queue it for the worker.

    commit=False leaves the row in the caller's transaction, so the mail goes if its work does.
    """
    message = compose(to, template, **ctx)
    at = now()
    settings: Settings = current_app.extensions["idp.settings"]
    db.session.add(
        MailMessage(
            recipient=to,
            subject=str(message["Subject"])[:255],
            # Links and codes inside: sealed until the worker hands it over (then blanked).
            raw=seal(message.as_bytes().decode(), app_secret=settings.secret_key, purpose=SEAL),
            status=QUEUED,
            attempts=0,
            created_at=at,
            next_attempt_at=at,
        )
    )
    if commit:
        db.session.commit()


def compose(to: str, template: str, **ctx: Any) -> EmailMessage:
    """The message send() would queue, without queueing it."""
    return _compose(current_app.extensions["idp.settings"], to, template, ctx)


def deliver(settings: Settings, raw: str) -> None:
    """Hand one queued message (as stored) to the outbox folder or SMTP; MailNotSent if it
    was refused, Unsealable if it was not sealed with this app secret."""
    if raw.startswith(FERNET_PREFIX):
        raw = unseal(raw, app_secret=settings.secret_key, purpose=SEAL)
    # Else a message queued in clear, before messages were sealed (an upgrade): as it is.
    message = parse(raw)
    to, subject = mask_email(str(message["To"])), message["Subject"]
    if settings.smtp_url:
        try:
            _deliver_smtp(settings.smtp_url, message)
        except MailNotSent:
            count_mail("failed")
            raise
        log.info("mail to=%s subject=%s smtp=%s", to, subject, _host(settings.smtp_url))
    else:
        name = _deliver_outbox(Path(settings.outbox_dir), message)
        log.info("mail to=%s subject=%s file=%s", to, subject, name)
    count_mail("sent")


def parse(raw: str | bytes) -> EmailMessage:
    """A stored message as a mail client would read it."""
    data = raw.encode() if isinstance(raw, str) else raw
    return BytesParser(policy=policy.default).parsebytes(data)


def text_of(message: EmailMessage) -> str:
    """The plain-text part of a message (every message we send has one)."""
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def outbox_messages(limit: int = 50) -> list[OutboxMessage]:
    """The newest `limit` messages in the outbox folder, newest first."""
    folder = Path(current_app.extensions["idp.settings"].outbox_dir)
    if not folder.is_dir():
        return []
    names = sorted((p.name for p in folder.glob("*.eml")), reverse=True)[:limit]
    messages = []
    for name in names:
        parsed = parse((folder / name).read_bytes())
        messages.append(
            OutboxMessage(
                name=name,
                to=str(parsed["To"]),
                subject=str(parsed["Subject"]),
                date=str(parsed["Date"]),
                body=text_of(parsed),
            )
        )
    return messages


def _compose(settings: Settings, to: str, template: str, ctx: dict[str, Any]) -> EmailMessage:
    """The message in the recipient's language (else the page's) and time zone."""
    recipient = User.by_email(to)
    language = recipient_language(recipient)
    with force_locale(language) if language else nullcontext():
        zone = recipient.time_zone if recipient is not None else None
        return _render(settings, to, template, ctx, zone=zone)


def _render(
    settings: Settings, to: str, template: str, ctx: dict[str, Any], *, zone: str | None
) -> EmailMessage:
    at = now()

    def written(moment: datetime) -> str:
        """A template's `written(at)`: a time in the reader's language and zone."""
        return written_time(moment, zone)

    text = render_template(
        f"mail/{template}.txt", **{"sent_at": written(at), "written": written, **ctx}
    )
    head, _, body = text.partition("\n\n")
    if not head.startswith("Subject:") or "\n" in head.strip():
        raise ValueError(f"mail/{template}.txt must start with 'Subject: ...' and a blank line")
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = head.removeprefix("Subject:").strip()
    message["Date"] = format_datetime(at.replace(tzinfo=UTC))
    # An explicit domain: make_msgid() would otherwise look up this host's FQDN on every send.
    message["Message-ID"] = make_msgid(domain=domain)
    plain = body.strip() + "\n"
    message.set_content(plain)
    brand = _brand(ctx)
    logo = _inline_logo(settings, brand)
    html = render_template(
        "mail/_layout.html",
        **{
            **ctx,
            "brand": brand,
            "subject": message["Subject"],
            "blocks": blocks(plain),
            "logo_cid": LOGO_CID if logo else None,
        },
    )
    message.add_alternative(html, subtype="html")
    if logo:
        data, content_type = logo
        html_part = message.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(
            data, "image", content_type.partition("/")[2], cid=f"<{LOGO_CID}>", filename="logo"
        )
    return message


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph of a mail's text as its HTML part shows it: prose with links, or verbatim."""

    verbatim: bool
    parts: tuple[tuple[str, bool], ...]  # (text, is_link)


URL = re.compile(r"https?://[^\s<>\"]+")


def blocks(text: str) -> list[Block]:
    """The plain text's paragraphs, each with its links marked: the HTML says the same."""
    found = []
    for paragraph in re.split(r"\n\s*\n", text.strip("\n")):
        lines = paragraph.split("\n")
        verbatim = all(line.startswith("  ") for line in lines if line.strip())
        if verbatim:
            paragraph = textwrap.dedent(paragraph)
        parts: list[tuple[str, bool]] = []
        at = 0
        for match in URL.finditer(paragraph):
            link = match.group(0).rstrip(".,;:)")
            parts.append((paragraph[at : match.start()], False))
            parts.append((link, True))
            at = match.start() + len(link)
        parts.append((paragraph[at:], False))
        found.append(Block(verbatim=verbatim, parts=tuple(p for p in parts if p[0])))
    return found


def _brand(ctx: dict[str, Any]) -> Brand:
    given = ctx.get("brand")
    if isinstance(given, Brand):
        return given
    # idp.web.branding sets this: the branding of the sign-in the current request serves.
    for_request = current_app.extensions.get("idp.brand")
    if for_request is not None:
        found: Brand = for_request()
        return found
    return global_brand(current_app.extensions["idp.settings"])


def _inline_logo(settings: Settings, brand: Brand) -> tuple[bytes, str] | None:
    """The brand's logo to attach (cid:), unless too big to send with every mail."""
    if brand.logo_version is None:
        return None
    if brand.logo_client_id:
        row = db.session.get(ClientLogo, brand.logo_client_id)
        found = (row.data, row.content_type) if row is not None else None
    else:
        found = global_logo(settings)
    if found is None or len(found[0]) > MAX_INLINE_LOGO_BYTES:
        return None
    return found


def _deliver_outbox(folder: Path, message: EmailMessage) -> str:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{now():%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.eml"
    partial = folder / f".{name}.part"  # renamed when complete: the page never reads half a file
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(message.as_bytes())
    os.replace(partial, folder / name)
    return name


def _host(url: str) -> str:
    return urlsplit(url).hostname or "localhost"


def _deliver_smtp(url: str, message: EmailMessage) -> None:
    parts = urlsplit(url)
    context = ssl.create_default_context()
    if parse_qs(parts.query).get("verify") == ["false"]:
        log.warning("mail: TLS certificate verification is off (IDP_SMTP_URL ?verify=false)")
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    host, port = _host(url), parts.port or DEFAULT_PORTS.get(parts.scheme, 25)
    try:
        client: smtplib.SMTP
        if parts.scheme == "smtps":
            client = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
        with client:
            if parts.scheme == "smtp+starttls":
                client.starttls(context=context)  # raises if the server does not offer it
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        log.warning(
            "mail to=%s not sent via %s:%s: %s", mask_email(str(message["To"])), host, port, exc
        )
        raise MailNotSent() from exc
