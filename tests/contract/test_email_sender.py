"""One contract for every email sender: the embedded one (.eml files) and SMTP (a real aiosmtpd
server started by the harness) deliver the same message, byte for byte where a reader looks:
headers, both bodies, attachments.  SMTP's own failure modes are held to the port's two errors.
The SMTP sender pipelines its commands when the server offers PIPELINING and speaks one command
at a time otherwise: every SMTP case runs both ways."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from connect.email import EmailSender, PermanentEmailError, TransientEmailError
from services.notifier.adapters.rendering import build_message
from services.notifier.domain.rules import Attachment

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:m-1@connect\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


def _message(message_id: str = "<contract-1@connect.example.org>", to_email: str = "zoe@example.org") -> Any:
    return build_message(
        sender="Connect <connect@example.org>", to_name="Zoë Ångström", to_email=to_email,
        subject="Réunion confirmée — Tuesday", text="Hello Zoë,\n\n.leading dot line\nfrom here on\n",
        html="<p>Hello Zo&euml;,</p><p>.leading dot line</p>", message_id=message_id,
        date=datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc),
        attachments=(Attachment("meeting.ics", "text/calendar; method=REQUEST", ICS),))


def _smtp_sender(sink: Any, pipelining: bool) -> Any:
    from connect.adapters.email_smtp import SmtpEmailSender

    sink.clear()
    sink.pipelining = pipelining
    return SmtpEmailSender(sink.url, timeout=10)


SMTP_DIALOGUES = [pytest.param(True, id="pipelined"), pytest.param(False, id="one-command-at-a-time")]


@pytest.fixture(params=["files", pytest.param("smtp", marks=pytest.mark.integration),
                        pytest.param("smtp-unpipelined", marks=pytest.mark.integration)])
def delivery(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[EmailSender, Callable[[Any], bytes]]]:
    """(sender, read back the bytes a reader would get for a sent message)."""
    if request.param == "files":
        from connect.adapters.email_files import FileEmailSender

        files = FileEmailSender(tmp_path / "mail")
        yield files, lambda message: files.path_for(message).read_bytes()
    else:
        sink = request.getfixturevalue("smtp_sink")
        smtp = _smtp_sender(sink, pipelining=request.param == "smtp")

        def received(message: Any) -> bytes:
            wanted = message["Message-ID"]
            return next(m.data for m in sink.messages if m.message["Message-ID"] == wanted)

        yield smtp, received


def _parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_the_message_arrives_as_written(delivery: tuple[EmailSender, Callable[[Any], bytes]]) -> None:
    sender, read_back = delivery
    sender.check()
    message = _message()
    sender.send(message)
    got = _parsed(read_back(message))
    assert got["Message-ID"] == "<contract-1@connect.example.org>"
    assert str(got["Subject"]) == "Réunion confirmée — Tuesday"
    assert got["To"].addresses[0].display_name == "Zoë Ångström"
    assert got["To"].addresses[0].addr_spec == "zoe@example.org"
    assert got["From"].addresses[0].addr_spec == "connect@example.org"
    assert got["Date"].datetime == datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)
    # SMTP dot-stuffing and line endings must not show through: the text reads as written.
    assert got.get_body(("plain",)).get_content().replace("\r\n", "\n") == \
        "Hello Zoë,\n\n.leading dot line\nfrom here on\n"
    assert "Zo&euml;" in got.get_body(("html",)).get_content()
    [ics] = [part for part in got.iter_attachments()]
    assert ics.get_filename() == "meeting.ics"
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "REQUEST"
    assert ics.get_payload(decode=True) == ICS


def test_each_message_is_kept_apart(delivery: tuple[EmailSender, Callable[[Any], bytes]]) -> None:
    sender, read_back = delivery
    first, second = _message("<a@connect.example.org>"), _message("<b@connect.example.org>", "amir@example.org")
    sender.send(first)
    sender.send(second)
    assert _parsed(read_back(first))["To"].addresses[0].addr_spec == "zoe@example.org"
    assert _parsed(read_back(second))["To"].addresses[0].addr_spec == "amir@example.org"


# --- SMTP answers, mapped onto the port's two errors -------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("pipelining", SMTP_DIALOGUES)
def test_the_smtp_sender_delivers_with_or_without_pipelining(smtp_sink: Any, pipelining: bool) -> None:
    sender = _smtp_sender(smtp_sink, pipelining)
    sender.send(_message())
    # The sender chooses its dialogue by this offer alone: both ways are exercised here.
    assert sender._client().has_extn("pipelining") is pipelining
    assert [m.message["Message-ID"] for m in smtp_sink.messages] == ["<contract-1@connect.example.org>"]


@pytest.mark.integration
@pytest.mark.parametrize("pipelining", SMTP_DIALOGUES)
@pytest.mark.parametrize("reply, error", [(451, TransientEmailError), (421, TransientEmailError),
                                          (550, PermanentEmailError), (554, PermanentEmailError)])
def test_smtp_refusals_map_to_the_port_errors(smtp_sink: Any, reply: int, error: type[Exception],
                                              pipelining: bool) -> None:
    sender = _smtp_sender(smtp_sink, pipelining)
    smtp_sink.program(reply)
    with pytest.raises(error):
        sender.send(_message())
    # The next message goes through on a fresh session.
    sender.send(_message("<after@connect.example.org>"))
    assert [m.message["Message-ID"] for m in smtp_sink.messages] == ["<after@connect.example.org>"]


@pytest.mark.integration
@pytest.mark.parametrize("pipelining", SMTP_DIALOGUES)
@pytest.mark.parametrize("reply, error", [(450, TransientEmailError), (550, PermanentEmailError)])
def test_a_refused_recipient_maps_to_the_port_errors(smtp_sink: Any, reply: int, error: type[Exception],
                                                     pipelining: bool) -> None:
    sender = _smtp_sender(smtp_sink, pipelining)
    smtp_sink.refuse_recipient("zoe@example.org", reply)
    with pytest.raises(error):
        sender.send(_message())
    # Nothing was accepted for the refused address, and the session goes on for the next one.
    sender.send(_message("<amir@connect.example.org>", "amir@example.org"))
    assert [m.message["Message-ID"] for m in smtp_sink.messages] == ["<amir@connect.example.org>"]
    assert [a.rcpt_tos for a in smtp_sink.attempts] == [("amir@example.org",)]


@pytest.mark.integration
def test_an_unreachable_server_is_transient() -> None:
    from connect.adapters.email_smtp import SmtpEmailSender
    from stack.engines.base import free_port

    sender = SmtpEmailSender("smtp://127.0.0.1:%d" % free_port("127.0.0.1"), timeout=2)
    with pytest.raises(TransientEmailError):
        sender.send(_message())
