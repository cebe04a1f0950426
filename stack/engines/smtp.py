"""The SMTP sink (aiosmtpd) that keeps every message it accepts, for tests, benchmarks and local stacks.

``SmtpSink`` runs in-process on a thread (the test fixture); it keeps each accepted message as a
``ReceivedMessage`` (envelope, raw bytes, and the ``email.message.EmailMessage`` parsed when first
asked for), optionally writes it to ``<mail_dir>/<time>-<n>.eml``, and can be programmed to
answer a sequence of error replies first (``sink.program(451, 451, 451)``: three temporary
failures, then normal acceptance).

``serve`` runs it until a signal, writing files only: ``connect run smtp-sink`` (the role
``connect stack up`` starts) and ``python -m stack.engines.smtp``, which ``SmtpSinkEngine``
starts as an engine of its own (with the usual detached-engine state file).
"""

from __future__ import annotations

import argparse
import collections
import email
import email.parser
import email.policy
import functools
import itertools
import logging
import os
import signal
import smtplib
import sys
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Iterable, Sequence

from .base import PortEngine, free_port

log = logging.getLogger(__name__)

# Reply texts for bare codes given to ``program``; enhanced status codes per RFC 3463.
DEFAULT_REPLIES = {
    250: "250 2.0.0 OK",
    421: "421 4.3.2 Service not available, closing transmission channel",
    450: "450 4.2.1 Mailbox unavailable, try again later",
    451: "451 4.3.0 Local error in processing, try again later",
    452: "452 4.3.1 Insufficient system storage",
    550: "550 5.1.1 Mailbox unavailable",
    552: "552 5.3.4 Message size exceeds fixed limit",
    553: "553 5.1.3 Mailbox name not allowed",
    554: "554 5.0.0 Transaction failed",
}


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message: the SMTP envelope, the raw bytes and (parsed on first use) the message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: Any
    received_at: float
    path: Path | None = None

    @functools.cached_property
    def message(self) -> EmailMessage:
        # Parsed when a test asks, not as the message arrives: the full parse (every header through
        # the header registry) was most of the sink's CPU, taken from the GIL a notifier under test
        # in the same process needs, in a 10,000-email fault test.
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def text(self) -> str:
        """The plain-text body (or the first text part), decoded."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


def message_id_of(data: bytes) -> str:
    """The Message-ID header as written (unfolded), from a parse of the header block alone."""
    raw = str(_HEADERS_ONLY.parsebytes(data, headersonly=True).get("Message-ID", ""))
    return " ".join(raw.split())


_HEADERS_ONLY = email.parser.BytesParser(policy=email.policy.compat32)


@dataclass(frozen=True)
class Attempt:
    """One DATA transaction, accepted or refused, as the client saw its reply."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    reply: str
    at: float = field(default_factory=time.time)

    @property
    def code(self) -> int:
        return int(self.reply[:3])


def _reply(value: int | str) -> str:
    if isinstance(value, int):
        return DEFAULT_REPLIES.get(value, "%d Programmed reply" % value)
    text = value.strip()
    if len(text) < 3 or not text[:3].isdigit():
        raise ValueError("an SMTP reply starts with a three-digit code: %r" % value)
    return text if len(text) > 3 else DEFAULT_REPLIES.get(int(text), "%s Programmed reply" % text)


class _Handler:
    def __init__(self, sink: "SmtpSink") -> None:
        self.sink = sink

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname  # this hook's duty, once it exists (aiosmtpd)
        if not self.sink.pipelining:
            return responses
        # aiosmtpd reads commands line by line, so it answers pipelined ones in order already.
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        refusal = self.sink._refusal_for(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.sink._on_data(envelope.mail_from, envelope.rcpt_tos, envelope.content, session.peer)


class SmtpSink:
    """In-process SMTP server on ``host:port`` keeping what it receives.

    ``url`` is ``smtp://127.0.0.1:<port>``. Thread-safe: the server runs on aiosmtpd's thread
    while tests read ``messages`` / ``attempts`` and call ``wait_for``.
    """

    name = "smtp"

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 mail_dir: str | os.PathLike[str] | None = None, *, keep: bool = True) -> None:
        self.host = host
        self.port = port
        self.mail_dir = Path(mail_dir) if mail_dir is not None else None
        # False for a sink in its own process, where only the files can be read: nothing
        # accumulates in memory however long it runs.
        self.keep = keep
        # Offer PIPELINING (RFC 2920) in EHLO, as production relays do; a test can turn it off
        # to hold a client to the one-command-at-a-time dialogue.  Read at each EHLO.
        self.pipelining = True
        self._controller: Any = None
        self._cond = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        # Message-ID -> times accepted, kept as messages arrive: counting over the parsed messages
        # on every poll made a 10,000-email test spend its time re-reading headers.
        self._message_ids: collections.Counter[str] = collections.Counter()
        self._attempts: list[Attempt] = []
        self._program: collections.deque[str] = collections.deque()
        self._refused_recipients: dict[str, str] = {}
        self._counter = itertools.count(1)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._controller is None:
            raise RuntimeError("the SMTP sink is not started")
        return "smtp://%s:%s" % (self.host, self.port)

    def start(self) -> "SmtpSink":
        if self._controller is not None:
            return self
        from aiosmtpd.controller import Controller

        if self.port is None:
            self.port = free_port(self.host)
        if self.mail_dir is not None:
            self.mail_dir.mkdir(parents=True, exist_ok=True)
        controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            ready_timeout=10.0,
            enable_SMTPUTF8=True,
            data_size_limit=50 * 1024 * 1024,
        )
        controller.start()
        self._controller = controller
        log.info("smtp sink listening on %s", self.url)
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ test API

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._cond:
            return list(self._messages)

    @property
    def attempts(self) -> list[Attempt]:
        with self._cond:
            return list(self._attempts)

    def program(self, *replies: int | str) -> None:
        """Answer the next DATA transactions with these replies, in order, then accept again.

        A 2xx entry accepts that message normally; e.g. ``program(451, 451, 451)``.
        """
        parsed = [_reply(value) for value in replies]
        with self._cond:
            self._program.extend(parsed)

    def refuse_recipient(self, address: str, reply: int | str) -> None:
        """Answer RCPT TO for ``address`` with ``reply`` (e.g. 550) until `clear`."""
        with self._cond:
            self._refused_recipients[address.lower()] = _reply(reply)

    def clear(self) -> None:
        """Forget messages, attempts, programmed replies and refused recipients; offer
        PIPELINING again."""
        with self._cond:
            self._messages.clear()
            self._message_ids.clear()
            self._attempts.clear()
            self._program.clear()
            self._refused_recipients.clear()
            self.pipelining = True

    def message_id_counts(self) -> collections.Counter[str]:
        """How many times each Message-ID was accepted (a duplicate shows as 2 or more)."""
        with self._cond:
            return collections.Counter(self._message_ids)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Block until at least ``count`` messages arrived; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("%d of %d messages after %.1fs" % (len(self._messages), count, timeout))
                self._cond.wait(remaining)
            return list(self._messages)

    def to(self, address: str) -> list[ReceivedMessage]:
        """Messages whose envelope recipients include ``address`` (case-insensitive)."""
        wanted = address.lower()
        return [m for m in self.messages if wanted in (r.lower() for r in m.rcpt_tos)]

    # ------------------------------------------------------------------ server side

    def _refusal_for(self, address: str) -> str | None:
        with self._cond:
            return self._refused_recipients.get(address.lower())

    def _on_data(self, mail_from: str, rcpt_tos: Iterable[str], data: bytes, peer: Any) -> str:
        rcpts = tuple(rcpt_tos)
        with self._cond:
            programmed = self._program.popleft() if self._program else None
            if programmed is not None and not programmed.startswith("2"):
                self._attempts.append(Attempt(mail_from, rcpts, programmed))
                self._cond.notify_all()
                return programmed
            number = next(self._counter)
        path = None
        if self.mail_dir is not None:
            # The time first: names stay unique (and in order) when a restarted sink writes to
            # the same folder, as a local stack's does.
            path = self.mail_dir / ("%d-%06d.eml" % (time.time_ns(), number))
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            # Readers never see a half-written message.
            tmp.replace(path)
        reply = programmed or DEFAULT_REPLIES[250]
        if not self.keep:
            return reply
        received = ReceivedMessage(mail_from, rcpts, data, peer, time.time(), path)
        message_id = message_id_of(data)
        with self._cond:
            self._messages.append(received)
            self._message_ids[message_id] += 1
            self._attempts.append(Attempt(mail_from, rcpts, reply))
            self._cond.notify_all()
        return reply


class SmtpSinkEngine(PortEngine):
    """The sink as its own process writing ``.eml`` files to ``<data_dir>/mail`` (for local stacks)."""

    name = "smtp"
    default_startup_timeout = 30.0
    stop_grace = 5.0

    @property
    def mail_dir(self) -> Path | None:
        return self.root / "mail" if self.root else None

    def _command(self) -> Sequence[str]:
        return [
            sys.executable,
            "-m",
            "stack.engines.smtp",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--mail-dir",
            str(self.mail_dir),
        ]

    def _spawn_options(self) -> dict[str, Any]:
        # The child must import this package even when it is not installed (a plain checkout).
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        return {"env": env}

    def _build_url(self) -> str:
        return "smtp://%s:%s" % (self.host, self.port)

    def _ready(self) -> bool:
        with smtplib.SMTP(self.host, self.port, timeout=2) as client:  # type: ignore[arg-type]
            return client.noop()[0] == 250


def serve(host: str, port: int, mail_dir: str | os.PathLike[str]) -> None:
    """Run a sink writing every accepted message to ``mail_dir`` until SIGTERM or SIGINT."""
    # aiosmtpd logs every SMTP command at INFO; the .eml files are the record that matters.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sink = SmtpSink(host, port, mail_dir, keep=False)
    sink.start()
    log.info("SMTP sink on %s:%s saving to %s", host, port, mail_dir)
    try:
        stop.wait()
    finally:
        sink.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.engines.smtp", description="SMTP sink writing .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--mail-dir", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve(args.host, args.port, args.mail_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
