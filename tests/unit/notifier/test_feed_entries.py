"""What a feed entry keeps: references and the title's scalar values, never a person's text."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from schemas.events import (AlternativeMentor, MeetingCancelled, MemberErased, MessagePosted, ProposalAccepted,
                            ProposalExpired, ProposalRejected, ProposalSent, SupportRequestResolved, ToolSaved)
from services.notifier.adapters.rendering import TEMPLATES, TemplateRenderer
from services.notifier.domain.feed import FeedEntry, NoSuchNotification, entries_for, entry_for, shown_name
from services.notifier.domain.recipients import Recipient
from services.notifier.domain.rules import Notification

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


def test_an_entry_is_the_notification_the_member_would_be_emailed():
    [entry] = entries_for("e1", AT, ProposalAccepted(**REL, actor_id="M-TOR"))
    assert entry == FeedEntry(recipient_id="M-TEE", event_id="e1", kind="proposal_accepted", occurred_at=AT,
                              relationship_id="R1", counterpart_id="M-TOR",
                              details={"references": {}, "context": {"recipient_role": "mentee"}})
    assert entry.read_at is None
    # An event that concerns nobody by email makes no entry either.
    assert entries_for("e2", AT, MemberErased(member_id="M-TEE")) == []


def test_an_entry_points_at_what_it_is_about_under_the_feeds_names():
    posted = MessagePosted(**REL, message_id="MSG1", sender_id="M-TOR", recipient_id="M-TEE", actor_id="M-TOR")
    [message] = entries_for("e1", AT, posted)
    assert message.details["references"] == {"message_id": "MSG1"}
    resolved = SupportRequestResolved(request_id="S1", member_id="M-TEE", kind="other", outcome="done",
                                      resolved_by="CS1")
    [support] = entries_for("e2", AT, resolved)
    # A support request has no relationship and no counterpart; the feed calls its id support_request_id.
    assert (support.relationship_id, support.counterpart_id) == (None, None)
    assert support.details["references"] == {"support_request_id": "S1"}
    assert support.details["context"] == {"kind": "other", "outcome": "done", "note": "", "kind_label": "your question"}
    tool = ToolSaved(**REL, kind="goals", tool_id="T1", version=2, actor_id="M-TEE")
    note = Notification("M-TOR", "tool_saved", about={"counterpart": "M-TEE"})
    assert entry_for("e3", AT, tool, note).details == {"references": {"tool_id": "T1"}, "context": {}}


def test_an_entry_keeps_only_the_titles_scalar_values():
    note = Notification("M-TEE", "anything", context={"text": "x", "count": 3, "share": 0.5, "by_me": True,
                                                      "list": ["A1"], "mapping": {"a": 1}, "when": AT, "none": None})
    entry = entry_for("e1", AT, ProposalAccepted(**REL), note)
    assert entry.details["context"] == {"text": "x", "count": 3, "share": 0.5, "by_me": True}
    assert entry.counterpart_id is None and entry.kind == "anything"


def test_a_name_in_the_feed_is_the_members_or_a_stand_in():
    assert shown_name(Recipient("M1", "Ada", "ada@example.org")) == "Ada"
    assert shown_name(Recipient("M1", "Ada", "ada@example.org", erased=True)) == "a Connect member"
    assert shown_name(None) == "a Connect member"


def test_a_notification_outside_the_feed_is_not_found():
    missing = NoSuchNotification("N9")
    assert (str(missing), missing.code, missing.facts) == (
        "No notification N9 in your feed.", "notification-not-found", {"notification_id": "N9"})
