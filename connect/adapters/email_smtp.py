from __future__ import annotations

import smtplib
import socket
import threading
from functools import lru_cache
from email.message import Message
from email.utils import getaddresses
from urllib.parse import unquote, urlparse

from connect.email import PermanentEmailError, TransientEmailError, wire_bytes


@lru_cache(maxsize=4096)
def _addresses(header: str) -> tuple[str, ...]:
    # Remembered: the sender is always the same and recipients recur, and parsing a header that
    # carries an encoded display name costs more than the SMTP commands around it.
    return tuple(address for _name, address in getaddresses([header]) if address)


class SmtpEmailSender:
    """`smtp://[user:pass@]host:port` (or `smtps://`, `smtp+starttls://`)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps", "smtp+starttls"):
            raise ValueError(f"unsupported SMTP URL scheme {parsed.scheme!r}")
        self.scheme = parsed.scheme
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (465 if parsed.scheme == "smtps" else 25)
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.timeout = timeout
        self._sessions = threading.local()

    def _connect(self) -> smtplib.SMTP:
        cls = smtplib.SMTP_SSL if self.scheme == "smtps" else smtplib.SMTP
        client = cls(self.host, self.port, timeout=self.timeout)
        if self.scheme == "smtp+starttls":
            client.starttls()
        if self.username:
            client.login(self.username, self.password or "")
        return client

    def _client(self) -> smtplib.SMTP:
        # One open session per thread, reused across messages: connect + EHLO + QUIT per
        # email would cost more than the message itself.
        client = getattr(self._sessions, "client", None)
        if client is None:
            client = self._sessions.client = self._connect()
        return client

    def _drop_client(self) -> None:
        client, self._sessions.client = getattr(self._sessions, "client", None), None
        if client is not None:
            try:
                client.close()
            except OSError:
                pass

    def send(self, message: Message) -> None:
        # The envelope from the two headers Connect writes, and one flattening: `send_message`
        # parses every address header (Resent-*, Cc, Bcc too) and flattens through a policy
        # clone, a sixth of the notifier's CPU per email.
        envelope_from = next(iter(_addresses(str(message["From"]))), "")
        recipients = list(_addresses(str(message["To"])))
        data = wire_bytes(message)
        try:
            try:
                self._client().sendmail(envelope_from, recipients, data)
            except smtplib.SMTPServerDisconnected:
                # The server closed an idle session: one fresh connection, then give up as below.
                self._drop_client()
                self._client().sendmail(envelope_from, recipients, data)
        except smtplib.SMTPResponseException as exc:
            self._drop_client()  # a session that saw an error is not worth trusting
            if 400 <= exc.smtp_code < 500:
                raise TransientEmailError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise PermanentEmailError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            if all(400 <= c < 500 for c in codes):
                raise TransientEmailError(str(exc.recipients)) from exc
            raise PermanentEmailError(str(exc.recipients)) from exc
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, socket.timeout,
                OSError) as exc:
            self._drop_client()
            raise TransientEmailError(repr(exc)) from exc

    def check(self) -> None:
        with socket.create_connection((self.host, self.port), timeout=self.timeout):
            pass
