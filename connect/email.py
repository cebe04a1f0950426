"""The email sender port.  `adapters.email_files` writes .eml files (embedded
default); `adapters.email_smtp` speaks SMTP.  The file sender writes a Message-ID
once (a second send of it leaves the first file); SMTP has no such guarantee, so
the notifier's ledger is what keeps a redelivered event from sending twice there."""

from __future__ import annotations

import io
from email.generator import BytesGenerator
from email.message import Message
from typing import Protocol


class EmailSender(Protocol):
    def send(self, message: Message) -> None:
        """Deliver or raise TransientEmailError / PermanentEmailError."""

    def check(self) -> None:
        """Raise when the sender cannot work (for /readyz)."""


class TransientEmailError(Exception):
    """Try again later: a 4xx answer, a dropped or refused connection."""


class PermanentEmailError(Exception):
    """The server refused for good (5xx): retrying will not help."""


def wire_bytes(message: Message) -> bytes:
    """The message as it travels: flattened once, with its own policy, CRLF line ends.

    Both senders write these bytes, so an .eml file holds what an SMTP server would have
    received (a policy swapped in here cannot fold the compat32 `Header` objects that carry
    non-ASCII subjects)."""
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False).flatten(message, linesep="\r\n")
    return buffer.getvalue()
