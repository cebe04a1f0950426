"""The email sender port.  `adapters.email_files` writes .eml files (embedded
default); `adapters.email_smtp` speaks SMTP.  Both are idempotent per
Message-ID where they can be: the file sender overwrites the same file."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver or raise TransientEmailError / PermanentEmailError."""

    def check(self) -> None:
        """Raise when the sender cannot work (for /readyz)."""


class TransientEmailError(Exception):
    """Try again later: a 4xx answer, a dropped or refused connection."""


class PermanentEmailError(Exception):
    """The server refused for good (5xx): retrying will not help."""
