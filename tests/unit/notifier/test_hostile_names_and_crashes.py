"""Issue 12, findings 4 and 6, through the notifier with both senders (the .eml files and a real
SMTP server, the in-process aiosmtpd sink):

* a line break (or any control character) in a member's name never stops their email, and never
  lets the name write a header of its own;
* a notifier that dies between the mail server's acceptance and its ledger write does not write
  the .eml file again after the restart, and over SMTP the one possible second copy carries the
  same Message-ID (the exact guarantees are in docs/events.md, "Crashes")."""

from __future__ import annotations

import email
import logging
from email.policy import default as default_policy
from typing import Any, Iterator

import pytest
from sqlalchemy import select

from connect.events import dead_letter_topic
from schemas.events import MemberDetailsChanged, ProposalSent
from services.notifier.adapters.orm import deliveries
from services.notifier.domain.rules import message_id_for
from services.notifier.tasks import GROUP_ID
from stack.engines.smtp import SmtpSink
from tests.unit.notifier.test_notifier import mails, publish

MENTOR, MENTEE = "M-TOR", "M-TEE"

HOSTILE_NAMES = [
    "Grace\nHopper",
    "Grace\r\nBcc: everyone@example.org",
    "Grace\x00Hopper",
    "Grace\u2028Hopper",
    "Grace\x1b[31mHopper",
    " \t ",
]


@pytest.fixture(params=["files", "smtp"])
def sender(request, tmp_path, clock) -> Iterator[tuple[Any, SmtpSink | None]]:  # type: ignore[no-untyped-def]
    from connect.bootstrap import build_container
    from connect.settings import Settings

    sink = SmtpSink().start() if request.param == "smtp" else None
    settings = Settings(var_dir=tmp_path / "var", **({"smtp_url": sink.url} if sink else {}))
    made = build_container(settings, clock=clock, services=("notifier",))
    made.upgrade_databases()
    yield made, sink
    made.close()
    if sink is not None:
        sink.stop()


@pytest.fixture
def container(sender):  # type: ignore[no-untyped-def] # what `deliver` drives: the notifier with this sender
    return sender[0]


def delivered(container: Any, sink: SmtpSink | None, count: int = 1) -> list[email.message.EmailMessage]:
    """What reached the recipient: the .eml files, or what the SMTP server accepted (once `count` arrived)."""
    if sink is None:
        return mails(container)
    received = sink.wait_for(count, timeout=5) if count else sink.messages
    return [email.message_from_bytes(m.data, policy=default_policy) for m in received]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_never_stops_the_email_nor_adds_a_header(sender, deliver, name):
    container, sink = sender
    publish(container, MemberDetailsChanged(member_id=MENTOR, name=name, email="grace@example.org"),
            MemberDetailsChanged(member_id=MENTEE, name=name.replace("Grace", "Ada"), email="ada@example.org"))
    deliver({"notifier"})
    [envelope] = publish(container, ProposalSent(relationship_id="R1", mentor_id=MENTOR, mentee_id=MENTEE,
                                                 actor_id=MENTEE, message="Hello"))
    deliver({"notifier"})
    [mail] = delivered(container, sink)
    assert mail["Message-ID"] == message_id_for(str(envelope.event_id), MENTOR)
    assert [a.addr_spec for a in mail["To"].addresses] == ["grace@example.org"]
    assert mail["Bcc"] is None and mail["Cc"] is None
    for header in ("To", "Subject"):
        assert not any(ch in str(mail[header]) for ch in "\r\n\x00\x1b\u2028"), (header, str(mail[header]))
    if name.strip():
        assert "Grace" in str(mail["To"]) and "Ada" in mail["Subject"]
    if sink is not None:
        assert sink.messages[0].rcpt_tos == ("grace@example.org",)
    dead = container.transport.consumer("inspect", [dead_letter_topic(GROUP_ID)])
    assert dead.poll(0.2) == []
    dead.close()


class Crash(BaseException):
    """A kill: nothing in the notifier may catch it."""


def _fresh_service(container: Any) -> Any:
    """The notifier as a restarted process has it: a new service on the same database and sender."""
    from services.notifier.services import NotifierService

    old = container.service("notifier")
    return NotifierService(old.database, old.clock, old.email, sender=old.sender)


def _crash_once(container: Any, monkeypatch: pytest.MonkeyPatch, *, after_send: bool) -> None:
    sender = container.email_sender
    real = sender.send

    def send_then_die(message: Any) -> None:
        if after_send:
            real(message)  # the server accepted (or the file is written) ...
        raise Crash()  # ... and the process dies before anything else happens

    monkeypatch.setattr(sender, "send", send_then_die)


def _ledger(container: Any) -> list[tuple[str, Any]]:
    with container.services["notifier"].database.engine.connect() as conn:
        return [(row.recipient_id, row.sent_at) for row in conn.execute(select(deliveries))]


@pytest.fixture
def known(sender, deliver):  # type: ignore[no-untyped-def]
    container, _sink = sender
    publish(container, MemberDetailsChanged(member_id=MENTOR, name="Grace Hopper", email="grace@example.org"),
            MemberDetailsChanged(member_id=MENTEE, name="Ada Lovelace", email="ada@example.org"))
    deliver({"notifier"})


def test_a_crash_after_the_send_never_writes_the_mail_file_twice(sender, known, monkeypatch, caplog):
    container, sink = sender
    [envelope] = publish(container, ProposalSent(relationship_id="R1", mentor_id=MENTOR, mentee_id=MENTEE,
                                                 actor_id=MENTEE))
    event = envelope.payload()
    _crash_once(container, monkeypatch, after_send=True)
    with pytest.raises(Crash):
        container.service("notifier").handle(envelope, event)
    monkeypatch.undo()
    if sink is None:
        [path] = container.settings.mail_dir.glob("*.eml")
        before = path.stat()
    with caplog.at_level(logging.WARNING):
        _fresh_service(container).handle(envelope, event)  # the redelivery after the restart
        _fresh_service(container).handle(envelope, event)  # and once more: nothing moves now
    wanted = message_id_for(str(envelope.event_id), MENTOR)
    if sink is None:
        [again] = container.settings.mail_dir.glob("*.eml")
        after = again.stat()
        # Written exactly once: the same file, never replaced.
        assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
        assert [m["Message-ID"] for m in mails(container)] == [wanted]
    else:
        # SMTP cannot tell whether the server kept the first copy: it is sent again, recognisably
        # the same email, and the log says so.
        assert sink.message_id_counts()[wanted] == 2
        assert "may have been sent twice" in caplog.text
    assert [recipient for recipient, sent_at in _ledger(container) if sent_at is not None] == [MENTOR]


def test_a_crash_before_the_send_sends_once_after_the_restart(sender, known, monkeypatch):
    container, sink = sender
    [envelope] = publish(container, ProposalSent(relationship_id="R1", mentor_id=MENTOR, mentee_id=MENTEE,
                                                 actor_id=MENTEE))
    _crash_once(container, monkeypatch, after_send=False)
    with pytest.raises(Crash):
        container.service("notifier").handle(envelope, envelope.payload())
    monkeypatch.undo()
    assert delivered(container, sink, count=0) == []
    _fresh_service(container).handle(envelope, envelope.payload())
    assert [m["Message-ID"] for m in delivered(container, sink)] == [message_id_for(str(envelope.event_id), MENTOR)]


def test_the_mail_file_is_written_once_even_by_two_writers(tmp_path):
    from connect.adapters.email_files import FileEmailSender
    from services.notifier.adapters.rendering import build_message
    from datetime import datetime, timezone

    sender = FileEmailSender(tmp_path)

    def message(text: str) -> Any:
        return build_message(sender="Connect <c@example.org>", to_name="Ada", to_email="ada@example.org",
                             subject="Hello", text=text, html=f"<p>{text}</p>", message_id="<same@connect>",
                             date=datetime.now(timezone.utc))

    sender.send(message("first"))
    sender.send(message("second"))  # a redelivery that got past the ledger: the first copy stands
    [path] = tmp_path.glob("*.eml")
    assert b"first" in path.read_bytes() and b"second" not in path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
