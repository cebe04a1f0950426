"""What a feed entry keeps: references and the title's scalar values, never a person's text."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from schemas.events import AlternativeMentor, MeetingCancelled, ProposalExpired, ProposalRejected, ProposalSent
from services.notifier.adapters.rendering import TEMPLATES, TemplateRenderer
from services.notifier.domain.feed import entries_for

AT = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
REL = dict(relationship_id="R1", mentor_id="M-TOR", mentee_id="M-TEE")


def test_entries_keep_no_names_or_texts_of_the_event():
    events = [
        ProposalSent(**REL, actor_id="M-TEE", message="My secret plan", goals="Private goals"),
        ProposalRejected(**REL, actor_id="M-TOR", reason="Personal reason"),
        ProposalExpired(**REL, alternatives=[AlternativeMentor(member_id="A1", name="Alan Turing",
                                                               headline="Codebreaker")]),
        MeetingCancelled(**REL, actor_id="M-TOR", meeting_id="MT1", starts_at=AT, duration_minutes=30,
                         mode="video", location_or_link="https://meet.example/secret", agenda="Private agenda"),
    ]
    stored = json.dumps([entry.details for event in events for entry in entries_for(str(uuid.uuid4()), AT, event)])
    for text in ("secret", "Private", "Personal", "Alan Turing", "Codebreaker"):
        assert text not in stored


def test_every_email_has_a_subject_template_and_a_meeting_title_keeps_its_local_time():
    """Every kind's title is rendered from what entries keep in the integration suite
    (tests/integration/notifier/test_feed.py); here: no kind lacks its subject template."""
    subjects = {path.name.removesuffix(".subject.j2") for path in TEMPLATES.glob("*.subject.j2")}
    assert subjects == {path.name.removesuffix(".txt.j2") for path in TEMPLATES.glob("[a-z]*.txt.j2")}
    meeting = MeetingCancelled(**REL, actor_id="M-TOR", meeting_id="MT1", starts_at=AT, duration_minutes=30,
                               mode="video", time_zone="Asia/Tokyo")
    entries = entries_for("e1", AT, meeting)
    # Every calendar that holds the meeting hears of the change, the one who made it too.
    assert sorted(e.recipient_id for e in entries) == ["M-TEE", "M-TOR"]
    entry = next(e for e in entries if e.recipient_id == "M-TEE")
    assert entry.details["references"] == {"meeting_id": "MT1"}
    assert TemplateRenderer().subject(entry.kind, {**entry.details["context"], "counterpart_name": "Grace"}) == \
        "Meeting with Grace on Tuesday 01 December 2026, 18:00 cancelled"
