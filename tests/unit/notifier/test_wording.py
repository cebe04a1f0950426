"""Every email reads as written for people: the taxonomy's labels and plain words, never the
ids events carry (issue 15, item 8)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from schemas.events import (AlternativeMentor, MeetingCancelled, MeetingChanged, MeetingScheduled, MessagePosted,
                            PartnerNudged, ProposalAccepted, ProposalEdited, ProposalExpired, ProposalRejected,
                            ProposalReminderDue, ProposalReopened, ProposalSent, ProposalWithdrawn,
                            RelationshipCompleted, RelationshipEndingSoon, RelationshipWithdrawn,
                            SupportMessageSentToPartner, SupportRequestCreated, SupportRequestResolved)
from services.notifier.domain.rules import RULES
from tests.unit.notifier.test_notifier import MENTEE, MENTOR, REL, container, mails, members, publish  # noqa: F401

#: What events carry and no member should read: taxonomy ids, field names, kinds.
IDS = ("raising_profile", "career_planning", "in_person", "starts_at", "duration_minutes", "location_or_link",
       "interaction_modes", "duration_months", "contact_partner", "general_insurance")


def test_every_email_uses_labels_not_ids(container, deliver, members):  # noqa: F811
    when = datetime(2026, 12, 20, 10, 0, tzinfo=timezone.utc)
    meeting = dict(**REL, meeting_id="MT1", starts_at=when, duration_minutes=60, mode="in_person",
                   location_or_link="The office", time_zone="Europe/London", organiser_id=MENTEE)
    events = [
        ProposalSent(**REL, actor_id=MENTEE, message="Hello", areas=["raising_profile", "career_planning"],
                     interaction_modes=["in_person", "video"], duration_months=6),
        ProposalEdited(**REL, actor_id=MENTEE, changed_fields=["areas", "interaction_modes", "duration_months"]),
        ProposalReminderDue(**REL, day=3),
        ProposalExpired(**REL, areas=["raising_profile"], alternatives=[AlternativeMentor(
            member_id="ALT", name="Alan Turing", matched_areas=["raising_profile"],
            why="Mentors in Raising profile, as your proposal asked")]),
        ProposalAccepted(**REL, actor_id=MENTOR), ProposalRejected(**REL, actor_id=MENTOR),
        ProposalWithdrawn(**REL, actor_id=MENTEE), ProposalReopened(**REL, actor_id=MENTEE),
        RelationshipWithdrawn(**REL, actor_id=MENTOR, account_deleted=True),
        RelationshipEndingSoon(**REL, planned_end=when + timedelta(days=14)),
        RelationshipCompleted(**REL, planned_end_reached=True),
        MeetingScheduled(**meeting, actor_id=MENTEE),
        MeetingChanged(**meeting, actor_id=MENTOR, sequence=1, changed_fields=["starts_at", "duration_minutes",
                                                                               "location_or_link"]),
        MeetingCancelled(**meeting, actor_id=MENTOR, sequence=2),
        MessagePosted(**REL, actor_id=MENTEE, message_id="MSG", sender_id=MENTEE, recipient_id=MENTOR),
        PartnerNudged(**REL, actor_id=MENTEE, recipient_id=MENTOR),
        SupportRequestCreated(request_id="SR", member_id=MENTEE, kind="contact_partner", relationship_id="R1"),
        SupportRequestResolved(request_id="SR", member_id=MENTEE, kind="contact_partner", outcome="done",
                               resolved_by="S1", note="Done"),
        SupportMessageSentToPartner(**REL, actor_id="S1", request_id="SR", recipient_id=MENTOR, message="Hi"),
    ]
    assert {type(e).TYPE for e in events} == set(RULES), "an email without a wording check"
    publish(container, *events)
    deliver({"notifier"})
    sent = mails(container)
    assert len(sent) >= len(events)
    for message in sent:
        for part in ("plain", "html"):
            text = message.get_body((part,)).get_content()
            found = [word for word in IDS if re.search(rf"\b{word}\b", text)]
            assert not found, (str(message["Subject"]), part, found)
    bodies = " ".join(m.get_body(("plain",)).get_content() for m in sent)
    for label in ("Raising profile", "Career planning", "In person", "time, length, place or link",
                  "areas, ways of meeting, duration"):
        assert label in bodies, label
