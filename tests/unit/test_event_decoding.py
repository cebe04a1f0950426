"""The one reading of a record every consumer shares, with each consumer's policy for types it
cannot read; and the relationship lifecycle facts the event types carry for every consumer."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from connect.events import PoisonMessage, UnknownTypes, decode_event
from schemas.events import EVENT_TYPES, Envelope, MemberDetailsChanged, ProposalSent

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def raw(type_: str, data: dict, version: int = 1) -> bytes:
    return Envelope(event_id=uuid.uuid4(), type=type_, version=version, occurred_at=NOW, producer="test", key="k",
                    data=data).to_bytes()


KNOWN = MemberDetailsChanged(member_id="M1", name="Ada", email="ada@example.org").envelope(
    producer="test", occurred_at=NOW).to_bytes()


@pytest.mark.parametrize("policy", list(UnknownTypes))
def test_a_known_event_is_read_by_every_policy(policy):
    decoded = decode_event(KNOWN, policy)
    assert decoded is not None and decoded.envelope.type == "MemberDetailsChanged"
    assert decoded.event == (None if policy is UnknownTypes.ENVELOPE_ONLY else
                             MemberDetailsChanged(member_id="M1", name="Ada", email="ada@example.org"))


@pytest.mark.parametrize("unknown", [raw("SomethingNew", {}), raw("MemberDetailsChanged", {
    "member_id": "M1", "name": "Ada", "email": "a@example.org"}, version=9)])
def test_unknown_types_and_newer_versions_follow_the_consumers_policy(unknown):
    assert decode_event(unknown, UnknownTypes.SKIP) is None
    with pytest.raises(PoisonMessage):
        decode_event(unknown, UnknownTypes.DEAD_LETTER)
    mirrored = decode_event(unknown, UnknownTypes.ENVELOPE_ONLY)
    assert mirrored is not None and mirrored.event is None


@pytest.mark.parametrize("policy", list(UnknownTypes))
def test_what_is_not_an_envelope_is_poison_under_every_policy(policy):
    for garbage in (b"not json", b'{"type": "ProposalSent"}', b"\xff\xfe"):
        with pytest.raises(PoisonMessage):
            decode_event(garbage, policy)


def test_a_known_type_with_a_broken_payload_is_poison_unless_only_the_envelope_is_read():
    broken = raw("ProposalSent", {"relationship_id": "R1"})  # mentor_id and mentee_id missing
    for policy in (UnknownTypes.SKIP, UnknownTypes.DEAD_LETTER):
        with pytest.raises(PoisonMessage):
            decode_event(broken, policy)
    assert decode_event(broken, UnknownTypes.ENVELOPE_ONLY) is not None


def test_the_relationship_lifecycle_lives_on_the_event_types():
    """docs/api.md's "Relationships": the status each event leads to, written out independently."""
    status_after = {"ProposalSent": "pending", "ProposalEdited": "pending", "ProposalReopened": "pending",
                    "ProposalReminderDue": "pending", "ProposalAccepted": "accepted", "ProposalRejected": "rejected",
                    "ProposalWithdrawn": "withdrawn", "RelationshipWithdrawn": "withdrawn",
                    "ProposalExpired": "expired", "RelationshipCompleted": "completed",
                    "RelationshipEndingSoon": "accepted"}
    moves = set(status_after) - {"ProposalEdited", "ProposalReminderDue", "RelationshipEndingSoon"}
    for name, cls in EVENT_TYPES.items():
        assert getattr(cls, "STATUS_AFTER", None) == status_after.get(name), name
        assert getattr(cls, "MOVES_STATUS", False) == (name in moves), name
        assert getattr(cls, "ANSWERS_PROPOSAL", False) == (name in ("ProposalAccepted", "ProposalRejected")), name
        assert getattr(cls, "STARTS_PROPOSAL", False) == (name in ("ProposalSent", "ProposalReopened")), name
    assert ProposalSent.STATUS_AFTER == "pending"
