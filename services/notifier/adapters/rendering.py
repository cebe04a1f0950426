"""Jinja2 rendering of a notification into a MIME email (plain text + HTML + attachments)."""

from __future__ import annotations

import binascii
import hashlib
from datetime import datetime
from email.encoders import encode_base64
from email.header import Header
from email.message import Message
from email.policy import Compat32
from email.mime.base import MIMEBase
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from connect.text import header_safe
from schemas import taxonomy
from services.notifier.domain.rules import Attachment

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class TemplateRenderer:
    """`<name>.txt.j2` is the plain-text body and sets `subject`; `<name>.html.j2` the HTML body."""

    def __init__(self, folder: Path = TEMPLATES) -> None:
        # auto_reload off: templates ship with the code, and checking each file's mtime on every
        # render was a few per cent of the notifier's CPU per email.
        self.env = Environment(loader=FileSystemLoader(str(folder)), undefined=StrictUndefined,
                               autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                               auto_reload=False)
        # `{{ event.areas | label("expertise") }}`: what members read, never the stored ids.
        self.env.filters["label"] = lambda value, vocabulary: (
            [taxonomy.label(vocabulary, v) for v in value] if isinstance(value, (list, tuple))
            else taxonomy.label(vocabulary, value))

    def has(self, name: str) -> bool:
        return f"{name}.txt.j2" in self.env.list_templates()

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
        text_module = self.env.get_template(f"{name}.txt.j2").make_module(context)
        subject = header_safe(str(getattr(text_module, "subject", "")), limit=500)
        if not subject:
            raise ValueError(f"template {name}.txt.j2 sets no subject")
        html = self.env.get_template(f"{name}.html.j2").render(context)
        return subject, str(text_module), html


class _Policy(Compat32):
    """compat32, except that a short plain-ASCII header is written as it is: nothing to fold or
    encode, and `Header.encode` on every header was a fifth of the notifier's CPU per email."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii() and "\n" not in value and "\r" not in value \
                and len(name) + len(value) + 2 <= 78:
            return "%s: %s%s" % (name, value, self.linesep)
        return super()._fold(name, value, sanitize)


_POLICY = _Policy()


def _text_part(body: str, subtype: str) -> Message:
    """A text body as quoted-printable UTF-8: readable in the raw message, 7-bit safe for any
    relay.  Encoded by binascii (C) and given its headers as plain strings: `MIMEText` re-parses
    its own Content-Type parameters and encodes line by line in Python, which was most of the
    cost of building a message."""
    part = Message(policy=_POLICY)
    part["Content-Type"] = 'text/%s; charset="utf-8"' % subtype
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"))
    return part


def _multipart(subtype: str, boundary: str) -> Message:
    message = Message(policy=_POLICY)
    message["Content-Type"] = 'multipart/%s; boundary="%s"' % (subtype, boundary)
    return message


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _address(display: str) -> str:
    name, address = parseaddr(display)
    return formataddr((name, address), charset="utf-8") if name else address


def build_message(*, sender: str, to_name: str | None, to_email: str, subject: str, text: str, html: str,
                  message_id: str, date: datetime, attachments: tuple[Attachment, ...] = ()) -> Message:
    """The MIME message as compat32 `Message` parts: their plain header strings cost a fraction
    of `EmailMessage`'s parsed header objects, which were the largest part of the notifier's own
    time per email.

    Whatever a member's name holds, it never stops the email nor writes a header of its own:
    the name and the subject are folded to one line (`header_safe`), and a name left empty by
    that gives the bare address."""
    # Boundaries of our own: "=_" never occurs in quoted-printable or base64 text, so the generator
    # can skip searching the bodies for a collision with a random one (a regex compile per email).
    token = hashlib.blake2b(message_id.encode(), digest_size=12).hexdigest()
    body = _multipart("alternative", f"=_alt_{token}")
    body.attach(_text_part(text, "plain"))
    body.attach(_text_part(html, "html"))
    message = body
    if attachments:
        message = _multipart("mixed", f"=_mixed_{token}")
        message.attach(body)
        for attachment in attachments:
            maintype, _, rest = attachment.content_type.partition("/")
            subtype, *params = (item.strip() for item in rest.split(";"))
            part = MIMEBase(maintype, subtype, policy=_POLICY, **dict(param.partition("=")[::2] for param in params if param))
            part.set_payload(attachment.content)
            encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
            message.attach(part)
    message["MIME-Version"] = "1.0"
    message["From"] = _address(sender) if not sender.isascii() else sender
    message["To"] = formataddr((header_safe(to_name or ""), to_email), charset="utf-8")
    message["Subject"] = _header(header_safe(subject, limit=500))
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    return message
