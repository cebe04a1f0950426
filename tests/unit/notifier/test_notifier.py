"""The notifier on the embedded shape: events in through the real transport, .eml files out."""

from __future__ import annotations

import email
import logging
import uuid
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connect.events import OutgoingMessage, dead_letter_topic
from schemas.events import (AlternativeMentor, Envelope, EventData, MeetingCancelled, MeetingScheduled,
                            MemberDetailsChanged, MemberErased, MessagePosted, PartnerNudged,
                            ProposalAccepted, ProposalEdited, ProposalExpired, ProposalRejected,
                            ProposalReminderDue, ProposalReopened, ProposalSent, ProposalWithdrawn,
                            RelationshipCompleted, RelationshipWithdrawn, RELATIONSHIPS_TOPIC)
from services.notifier.adapters.orm import deliveries
from services.notifier.domain.rules import message_id_for

MENTOR, MENTEE = "M-TOR", "M-TEE"
REL = dict(relationship_id="R1", mentor_id=MENTOR, mentee_id=MENTEE)


def publish(container, *events: EventData | Envelope) -> list[Envelope]:  # type: ignore[no-untyped-def]
    envelopes = [e if isinstance(e, Envelope) else e.envelope(producer="test", occurred_at=container.clock.now())
                 for e in events]
    container.transport.publisher().publish([OutgoingMessage(e.topic, e.key, e.to_bytes()) for e in envelopes])
    return envelopes


def mails(container) -> list[email.message.EmailMessage]:  # type: ignore[no-untyped-def]
    folder: Path = container.settings.mail_dir
    return [email.message_from_bytes(p.read_bytes(), policy=default_policy) for p in sorted(folder.glob("*.eml"))]


@pytest.fixture
def container(tmp_path, clock):  # type: ignore[no-untyped-def]
    """The notifier alone on the embedded shape (its consumer, its database, the real file sender)."""
    from connect.bootstrap import build_container
    from connect.settings import Settings

    made = build_container(Settings(var_dir=tmp_path / "var"), clock=clock, services=("notifier",))
    made.upgrade_databases()
    yield made
    made.close()


@pytest.fixture
def members(container, deliver):  # type: ignore[no-untyped-def]
    publish(container, MemberDetailsChanged(member_id=MENTOR, name="Grace Hopper", email="grace@example.org"),
            MemberDetailsChanged(member_id=MENTEE, name="Ada Lovelace", email="ada@example.org"))
    deliver({"notifier"})


def test_proposal_received_emails_the_mentor_once_even_when_redelivered(container, deliver, members):
    [envelope] = publish(container, ProposalSent(**REL, actor_id=MENTEE, message="Could you help me?",
                                                 areas=["career_planning"], duration_months=6))
    deliver({"notifier"})
    [mail] = mails(container)
    assert mail["To"] == "Grace Hopper <grace@example.org>"
    assert mail["Subject"] == "New mentoring proposal from Ada Lovelace"
    assert mail["Message-ID"] == message_id_for(str(envelope.event_id), MENTOR)
    assert "Could you help me?" in mail.get_body(("plain",)).get_content()
    assert "<strong>Ada Lovelace</strong>" in mail.get_body(("html",)).get_content()

    # The same event again (at-least-once delivery): the sender must not be asked a second time.
    for path in container.settings.mail_dir.glob("*.eml"):
        path.unlink()
    publish(container, envelope)
    assert deliver({"notifier"}) == 2  # read once by each notifier consumer: the emails' and the feed's
    assert mails(container) == []
    with container.services["notifier"].database.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar() == 1


@pytest.mark.parametrize("event, recipient, subject", [
    (ProposalReminderDue(**REL, day=7), "grace@example.org", "Reminder: Ada Lovelace is waiting for your answer"),
    (ProposalAccepted(**REL, actor_id=MENTOR), "ada@example.org", "Grace Hopper accepted your mentoring proposal"),
    (ProposalRejected(**REL, actor_id=MENTOR, reason="No capacity"), "ada@example.org",
     "Grace Hopper declined your mentoring proposal"),
    (ProposalWithdrawn(**REL, actor_id=MENTEE), "grace@example.org", "Ada Lovelace withdrew their mentoring proposal"),
    (ProposalReopened(**REL, actor_id=MENTOR), "ada@example.org", "Grace Hopper reopened a mentoring proposal"),
    (ProposalReopened(**REL, actor_id=MENTEE), "grace@example.org", "Ada Lovelace reopened a mentoring proposal"),
    (ProposalEdited(**REL, actor_id=MENTEE, changed_fields=["goals"]), "grace@example.org",
     "Ada Lovelace changed their mentoring proposal"),
    (RelationshipWithdrawn(**REL, actor_id=MENTEE), "grace@example.org",
     "Ada Lovelace ended your mentoring relationship"),
    (RelationshipWithdrawn(**REL, actor_id=MENTOR), "ada@example.org",
     "Grace Hopper ended your mentoring relationship"),
    (RelationshipCompleted(**REL, actor_id=MENTOR), "ada@example.org",
     "Your mentoring relationship with Grace Hopper is complete"),
    (MessagePosted(**REL, actor_id=MENTEE, message_id="m1", sender_id=MENTEE, recipient_id=MENTOR),
     "grace@example.org", "New message from Ada Lovelace"),
    (PartnerNudged(**REL, actor_id=MENTOR, recipient_id=MENTEE), "ada@example.org",
     "Grace Hopper would like to hear from you"),
])
def test_the_party_who_did_not_act_hears(container, deliver, members, event, recipient, subject):
    publish(container, event)
    deliver({"notifier"})
    [mail] = mails(container)
    assert (mail["To"].addresses[0].addr_spec, mail["Subject"]) == (recipient, subject)


def test_expired_proposal_offers_the_mentee_up_to_three_alternatives(container, deliver, members):
    alternatives = [AlternativeMentor(member_id=f"A{i}", name=f"Mentor {i}", headline=f"Headline {i}")
                    for i in range(5)]
    publish(container, ProposalExpired(**REL, areas=["career_planning"], alternatives=alternatives))
    deliver({"notifier"})
    [mail] = mails(container)
    assert mail["To"].addresses[0].addr_spec == "ada@example.org"
    text = mail.get_body(("plain",)).get_content()
    assert [f"Mentor {i}" in text for i in range(5)] == [True, True, True, False, False]


def test_an_erased_member_gets_nothing_and_stays_erased(container, deliver, members):
    publish(container, MemberErased(member_id=MENTOR),
            # a late duplicate of an older details event must not bring the address back
            MemberDetailsChanged(member_id=MENTOR, name="Grace Hopper", email="grace@example.org"),
            ProposalSent(**REL, actor_id=MENTEE))
    deliver({"notifier"})
    assert mails(container) == []
    assert container.service("notifier").recipient(MENTOR).email is None


def test_missing_address_is_logged_with_the_event_id_and_the_consumer_moves_on(container, deliver, members,
                                                                                 caplog):
    stranger = ProposalSent(relationship_id="R2", mentor_id="M-UNKNOWN", mentee_id=MENTEE, actor_id=MENTEE)
    with caplog.at_level(logging.WARNING, logger="services.notifier.services"):
        [skipped, _] = publish(container, stranger, ProposalSent(**REL, actor_id=MENTEE))
        deliver({"notifier"})
    assert [m["To"].addresses[0].addr_spec for m in mails(container)] == ["grace@example.org"]
    assert str(skipped.event_id) in caplog.text and "M-UNKNOWN" in caplog.text


def test_poison_messages_are_dead_lettered_and_healthy_ones_keep_flowing(container, deliver, members):
    good = ProposalSent(**REL, actor_id=MENTEE).envelope(producer="test", occurred_at=container.clock.now())
    unknown = good.model_copy(update={"event_id": uuid.uuid4(), "type": "SomethingNew"})
    future = good.model_copy(update={"event_id": uuid.uuid4(), "version": 99})
    invalid = good.model_copy(update={"event_id": uuid.uuid4(), "data": {"relationship_id": "R1"}})
    container.transport.publisher().publish(
        [OutgoingMessage(RELATIONSHIPS_TOPIC, "R1", raw) for raw in
         (b"\xff not json", unknown.to_bytes(), future.to_bytes(), invalid.to_bytes(), good.to_bytes())])
    deliver({"notifier"})
    assert len(mails(container)) == 1
    dlq = container.transport.consumer("inspect", [dead_letter_topic("notifier")])
    assert [r.value for r in dlq.poll(0)] == [b"\xff not json", unknown.to_bytes(), future.to_bytes(),
                                              invalid.to_bytes()]
    dlq.close()


def test_a_message_burst_gives_one_email(container, deliver, members):
    posted = dict(REL, actor_id=MENTEE, sender_id=MENTEE, recipient_id=MENTOR)
    publish(container, MessagePosted(**posted, message_id="m1"),
            MessagePosted(**posted, message_id="m2", notify=False))
    deliver({"notifier"})
    assert len(mails(container)) == 1


def test_meetings_carry_an_ics_that_updates_then_cancels_the_same_entry(container, deliver, members):
    from datetime import datetime, timezone

    from icalendar import Calendar

    meeting = dict(REL, actor_id=MENTEE, meeting_id="MT1", starts_at=datetime(2026, 12, 10, 15, 0, tzinfo=timezone.utc),
                   duration_minutes=45, mode="video", location_or_link="https://meet.example.org/x",
                   agenda="Career plan", time_zone="Europe/London")
    publish(container, MeetingScheduled(**meeting))
    deliver({"notifier"})
    # Both calendars hold the entry: Grace's invitation, and Ada's copy of the one she arranged.
    [own, scheduled] = sorted(mails(container), key=lambda m: m["To"].addresses[0].addr_spec != "ada@example.org")
    assert scheduled["Subject"] == "Meeting with Ada Lovelace on Thursday 10 December 2026, 15:00"
    assert scheduled["To"].addresses[0].addr_spec == "grace@example.org"
    assert own["Subject"] == "Meeting with Grace Hopper on Thursday 10 December 2026, 15:00"
    for path in container.settings.mail_dir.glob("*.eml"):
        path.unlink()
    publish(container, MeetingCancelled(**{**meeting, "sequence": 1}))
    deliver({"notifier"})
    [cancelled] = [m for m in mails(container) if m["To"].addresses[0].addr_spec == "grace@example.org"]

    def invite(mail):  # type: ignore[no-untyped-def]
        [part] = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
        return Calendar.from_ical(part.get_payload(decode=True))

    first, second = invite(scheduled), invite(cancelled)
    assert str(first["method"]) == "REQUEST" and str(second["method"]) == "CANCEL"
    [entry1], [entry2] = first.walk("VEVENT"), second.walk("VEVENT")
    assert str(entry1["uid"]) == str(entry2["uid"]) == "meeting-MT1@connect"
    assert (int(entry1["sequence"]), int(entry2["sequence"])) == (0, 1)
    assert entry1.decoded("dtend") - entry1.decoded("dtstart") == timedelta(minutes=45)
