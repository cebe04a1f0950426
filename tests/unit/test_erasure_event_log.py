"""The embedded event log compacts on MemberErased: the member's own records go, records of
others' keys lose the member's personal text, other members' records are untouched, and no
old page image is left in the file or its write-ahead log."""

from __future__ import annotations

from datetime import datetime, timezone

from connect.adapters.events_embedded import EmbeddedTransport
from connect.events import OutgoingMessage
from schemas.events import (AlternativeMentor, Envelope, EventData, MeetingScheduled, MemberDetailsChanged,
                            MemberErased, MentorProfileChanged, ProposalExpired, ProposalSent)

SECRET = "canary-7f3a"
AT = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def _message(event: EventData) -> OutgoingMessage:
    return OutgoingMessage(event.TOPIC, event.key(), event.envelope(producer="test", occurred_at=AT).to_bytes())


def _everything(transport: EmbeddedTransport) -> list[Envelope]:
    consumer = transport.consumer("reader", ["connect.members.v1", "connect.profiles.v1", "connect.relationships.v1"])
    return [Envelope.from_bytes(r.value) for r in consumer.poll(0)]


def test_member_erased_compacts_the_embedded_log(tmp_path):
    transport = EmbeddedTransport(tmp_path / "events.db")
    publisher = transport.publisher()
    pair = {"relationship_id": "R1", "mentor_id": "M2", "mentee_id": "M1"}
    publisher.publish([
        _message(MemberDetailsChanged(member_id="M1", name=f"Ada {SECRET}", email=f"{SECRET}@example.org")),
        _message(MentorProfileChanged(member_id="M1", available=True, name=f"Ada {SECRET}", headline=SECRET)),
        _message(MemberDetailsChanged(member_id="M2", name="Grace Hopper", email="grace@example.org")),
        _message(ProposalSent(**pair, actor_id="M1", message=f"Hello {SECRET}", goals=SECRET)),
        _message(MeetingScheduled(**pair, actor_id="M2", meeting_id="X1", starts_at=AT, duration_minutes=30,
                                  mode="video", agenda=SECRET, location_or_link=SECRET)),
        _message(ProposalExpired(relationship_id="R2", mentor_id="M3", mentee_id="M4", reason="expired",
                                 alternatives=[AlternativeMentor(member_id="M1", name=f"Ada {SECRET}"),
                                               AlternativeMentor(member_id="M5", name="Alan Turing")])),
    ])
    # Dead letters: a copy of the member's own record, and an unreadable one naming them.
    dead = _message(MemberDetailsChanged(member_id="M1", name=f"Ada {SECRET}", email="ada@example.org"))
    publisher.publish([OutgoingMessage("connect.dlq.notifier", "M1", dead.value),
                       OutgoingMessage("connect.dlq.notifier", "M1", b'{"broken": "M1", "note": "' + SECRET.encode())])
    publisher.publish([_message(MemberErased(member_id="M1"))])

    left = _everything(transport)
    assert [(e.type, e.key) for e in left] == [
        ("MemberDetailsChanged", "M2"), ("ProposalSent", "R1"), ("MeetingScheduled", "R1"),
        ("ProposalExpired", "R2"), ("MemberErased", "M1")]
    assert left[0].data["name"] == "Grace Hopper"
    assert (left[1].data["message"], left[1].data["goals"]) == ("", "")
    assert (left[2].data["agenda"], left[2].data["location_or_link"]) == ("", "")
    assert [a["member_id"] for a in left[3].data["alternatives"]] == ["M5"]
    assert left[3].data["reason"] == "expired"  # not the erased member's words
    dead_letters = transport.consumer("dlq-reader", ["connect.dlq.notifier"]).poll(0)
    assert dead_letters == []
    transport.close()
    for path in tmp_path.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path.name
