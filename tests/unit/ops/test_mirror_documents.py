"""The ops mirror's documents as an operator's dashboard reads them: the index an event lands in,
the fields lifted for aggregations, the outcome of a proposal and how long its answer took.

Example-based and fast on purpose: `make mutation` runs these after each change it makes to
`ops/domain/mirror.py` (docs/testing.md)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from schemas.events import Envelope
from services.ops.domain.mirror import (answers_proposal, document, index_for, index_template, mapping,
                                        starts_proposal, time_answers)

AT = datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc)
MIRRORED = AT + timedelta(seconds=5)
EVENT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
IDS = {"relationship_id": "R1", "mentor_id": "M1", "mentee_id": "M2"}


def envelope(event_type: str, data: dict, occurred_at: datetime = AT) -> Envelope:
    return Envelope(event_id=EVENT_ID, type=event_type, version=1, occurred_at=occurred_at, producer="relationships",
                    key="R1", data=data)


def test_the_mapping_types_every_field_a_dashboard_aggregates_and_nothing_else():
    keywords = ["event_id", "type", "producer", "key", "topic", "relationship_id", "mentor_id", "mentee_id",
                "member_id", "actor_id", "status", "outcome"]
    assert mapping("flattened") == {"dynamic": False, "properties": {
        **{name: {"type": "keyword"} for name in keywords},
        "occurred_at": {"type": "date"}, "mirrored_at": {"type": "date"}, "version": {"type": "integer"},
        "day": {"type": "integer"}, "accepted": {"type": "byte"}, "answer_seconds": {"type": "long"},
        "reason": {"type": "text"}, "data": {"type": "flattened"}}}
    assert mapping("flat_object")["properties"]["data"] == {"type": "flat_object"}


def test_the_index_template_covers_the_daily_indices():
    assert index_template("connect-events", "flattened") == {
        "index_patterns": ["connect-events-*"], "priority": 100,
        "template": {"settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
                     "mappings": mapping("flattened")}}


def test_an_event_lands_in_the_index_of_its_utc_day():
    assert index_for("connect-events", AT) == "connect-events-2026.12.01"
    paris = timezone(timedelta(hours=1))
    assert index_for("connect-events", datetime(2026, 12, 2, 0, 30, tzinfo=paris)) == "connect-events-2026.12.01"


def test_a_document_lifts_the_envelope_and_the_ids_and_keeps_the_whole_payload():
    data = {**IDS, "actor_id": "M2", "reason": None, "message": "Hi", "day": None}
    doc = document(envelope("ProposalSent", data), "connect.relationships.v1", MIRRORED)
    assert doc == {"event_id": str(EVENT_ID), "type": "ProposalSent", "version": 1,
                   "occurred_at": "2026-12-01T23:30:00+00:00", "producer": "relationships", "key": "R1",
                   "topic": "connect.relationships.v1", "mirrored_at": "2026-12-01T23:30:05+00:00", "data": data,
                   **IDS, "actor_id": "M2", "status": "pending"}


def test_a_time_without_an_offset_is_taken_as_utc():
    doc = document(envelope("MemberErased", {"member_id": "M3"}, datetime(2026, 12, 1, 9, 0)), "t", MIRRORED)
    assert doc["occurred_at"] == "2026-12-01T09:00:00+00:00" and doc["member_id"] == "M3"
    assert "status" not in doc and "outcome" not in doc


@pytest.mark.parametrize("event_type, status, outcome, accepted", [
    ("ProposalAccepted", "accepted", "accepted", 1),
    ("ProposalRejected", "rejected", "rejected", 0),
    ("ProposalExpired", "expired", "expired", 0),
    ("ProposalWithdrawn", "withdrawn", None, None),
    ("RelationshipCompleted", "completed", None, None),
])
def test_an_answered_or_expired_proposal_carries_its_outcome(event_type, status, outcome, accepted):
    doc = document(envelope(event_type, {**IDS, "reason": "Busy", "day": 3}), "t", MIRRORED)
    assert (doc["status"], doc.get("outcome"), doc.get("accepted")) == (status, outcome, accepted)
    assert (doc["reason"], doc["day"]) == ("Busy", 3)


def test_which_events_start_and_answer_the_proposal_clock():
    assert [starts_proposal(t) for t in ("ProposalSent", "ProposalReopened", "ProposalAccepted", "nope")] == [
        True, True, False, False]
    assert [answers_proposal(t) for t in ("ProposalAccepted", "ProposalRejected", "ProposalSent", "nope")] == [
        True, True, False, False]


def doc(event_type: str, at: datetime, relationship_id: str | None = "R1") -> dict:
    return {"type": event_type, "occurred_at": at.isoformat(),
            **({"relationship_id": relationship_id} if relationship_id else {})}


def test_an_answer_is_timed_from_the_latest_start_in_the_batch_or_else_the_stored_clock():
    sent, answered = doc("ProposalSent", AT), doc("ProposalAccepted", AT + timedelta(hours=2, seconds=1))
    assert time_answers([sent, answered], {}) == {"R1": AT.isoformat()}
    assert answered["answer_seconds"] == 7201
    later = doc("ProposalRejected", AT + timedelta(days=1))
    assert time_answers([later], {"R1": {"since": (AT + timedelta(hours=20)).isoformat()}}) == {}
    assert later["answer_seconds"] == 4 * 3600
    reopened = doc("ProposalReopened", AT + timedelta(days=2))
    again = doc("ProposalAccepted", AT + timedelta(days=2, minutes=1))
    assert time_answers([reopened, again], {"R1": {"since": AT.isoformat()}}) == {"R1": reopened["occurred_at"]}
    assert again["answer_seconds"] == 60


def test_an_answer_without_a_clock_or_before_it_gets_no_figure():
    unknown = doc("ProposalAccepted", AT)
    assert time_answers([unknown], {"R9": {"since": AT.isoformat()}}) == {}
    assert "answer_seconds" not in unknown
    early = doc("ProposalAccepted", AT)
    time_answers([early], {"R1": {"since": (AT + timedelta(seconds=1)).isoformat()}})
    assert "answer_seconds" not in early
    instant = doc("ProposalAccepted", AT)
    time_answers([instant], {"R1": {"since": AT.isoformat()}})
    assert instant["answer_seconds"] == 0
    member_event = doc("ProposalSent", AT, relationship_id=None)
    assert time_answers([member_event], {}) == {}


def test_the_day_and_the_time_keep_to_utc_whatever_the_servers_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert index_for("connect-events", AT) == "connect-events-2026.12.01"  # 08:30 on the 2nd in Tokyo
    finally:
        monkeypatch.undo()
        time.tzset()
    paris = timezone(timedelta(hours=1))
    doc = document(envelope("ProposalSent", IDS, datetime(2026, 12, 2, 0, 30, tzinfo=paris)), "t", MIRRORED)
    assert doc["occurred_at"] == "2026-12-02T00:30:00+01:00"  # the same instant as the producer wrote it


def test_one_event_without_a_clock_does_not_stop_the_rest_of_the_batch():
    member_event = doc("ProposalSent", AT, relationship_id=None)
    unclocked = doc("ProposalAccepted", AT)
    other = {**doc("ProposalAccepted", AT + timedelta(minutes=5)), "relationship_id": "R2"}
    starts = time_answers([member_event, unclocked, other], {"R2": {"since": AT.isoformat()}})
    assert starts == {} and "answer_seconds" not in unclocked
    assert other["answer_seconds"] == 300
