from __future__ import annotations

import re
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


# SMTP's dot-stuffing (RFC 5321 4.5.2), which `SMTP.data` does for the unpipelined path; the
# message bytes already end their lines with CRLF.
_LINE_STARTING_WITH_A_DOT = re.compile(rb"^\.", re.MULTILINE)


def _send_pipelined(client: smtplib.SMTP, envelope_from: str, recipients: list[str], data: bytes) -> None:
    """MAIL, RCPT and DATA in one write, then the message (RFC 2920 PIPELINING): two round trips
    where `sendmail` makes four, which costs both ends of the connection a wake-up each.  Raises
    the exceptions `sendmail` raises for the same replies."""
    size = " SIZE=%d" % len(data) if client.has_extn("size") else ""
    commands = ["MAIL FROM:<%s>%s" % (envelope_from, size), *("RCPT TO:<%s>" % r for r in recipients), "DATA"]
    client.send("".join(command + "\r\n" for command in commands))
    mail_reply, *rcpt_replies, data_reply = [client.getreply() for _ in commands]
    if mail_reply[0] != 250:
        raise smtplib.SMTPSenderRefused(mail_reply[0], mail_reply[1], envelope_from)
    refused = {rcpt: reply for rcpt, reply in zip(recipients, rcpt_replies) if reply[0] not in (250, 251)}
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    if data_reply[0] != 354:
        raise smtplib.SMTPDataError(*data_reply)
    ending = b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"
    client.send(_LINE_STARTING_WITH_A_DOT.sub(b"..", data) + ending)
    code, reply = client.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


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
                self._transmit(envelope_from, recipients, data)
            except smtplib.SMTPServerDisconnected:
                # The server closed an idle session: one fresh connection, then give up as below.
                self._drop_client()
                self._transmit(envelope_from, recipients, data)
        except smtplib.SMTPResponseException as exc:
            self._drop_client()  # a session that saw an error is not worth trusting
            if 400 <= exc.smtp_code < 500:
                raise TransientEmailError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise PermanentEmailError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop_client()
            codes = {code for code, _ in exc.recipients.values()}
            if all(400 <= c < 500 for c in codes):
                raise TransientEmailError(str(exc.recipients)) from exc
            raise PermanentEmailError(str(exc.recipients)) from exc
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, socket.timeout,
                OSError) as exc:
            self._drop_client()
            raise TransientEmailError(repr(exc)) from exc

    def _transmit(self, envelope_from: str, recipients: list[str], data: bytes) -> None:
        client = self._client()
        client.ehlo_or_helo_if_needed()
        if client.has_extn("pipelining"):
            _send_pipelined(client, envelope_from, recipients, data)
        else:
            client.sendmail(envelope_from, recipients, data)

    def check(self) -> None:
        with socket.create_connection((self.host, self.port), timeout=self.timeout):
            pass
