"""Jinja2 rendering of a notification into a MIME email (plain text + HTML + attachments)."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notifier.domain.rules import Attachment

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class TemplateRenderer:
    """`<name>.txt.j2` is the plain-text body and sets `subject`; `<name>.html.j2` the HTML body."""

    def __init__(self, folder: Path = TEMPLATES) -> None:
        self.env = Environment(loader=FileSystemLoader(str(folder)), undefined=StrictUndefined,
                               autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)

    def has(self, name: str) -> bool:
        return f"{name}.txt.j2" in self.env.list_templates()

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
        text_module = self.env.get_template(f"{name}.txt.j2").make_module(context)
        subject = " ".join(str(getattr(text_module, "subject", "")).split())
        if not subject:
            raise ValueError(f"template {name}.txt.j2 sets no subject")
        html = self.env.get_template(f"{name}.html.j2").render(context)
        return subject, str(text_module), html


def build_message(*, sender: str, to_name: str | None, to_email: str, subject: str, text: str, html: str,
                  message_id: str, date: datetime, attachments: tuple[Attachment, ...] = ()) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((to_name or "", to_email))
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        subtype, _, params = subtype.partition(";")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype.strip(),
                               filename=attachment.filename)
    return message
