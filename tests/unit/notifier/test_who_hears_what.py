"""Who gets which email, as a member would notice it: the right person, the right template,
told who the other party is and in which role they are addressed (no database, no SMTP)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from schemas.events import (AlternativeMentor, MeetingCancelled, MeetingChanged, MeetingScheduled, MemberErased,
                            MessagePosted, PartnerNudged, ProposalAccepted, ProposalEdited, ProposalExpired,
                            ProposalRejected, ProposalReminderDue, ProposalReopened, ProposalSent, ProposalWithdrawn,
                            RelationshipCompleted, RelationshipEndingSoon, RelationshipWithdrawn,
                            SupportMessageSentToPartner, SupportRequestCreated, SupportRequestResolved)
from services.notifier.domain.recipients import Recipient
from services.notifier.domain.rules import (MAX_ALTERNATIVES, SUPPORT_KIND_NAMES, SUPPORT_TEAM, Invite, field_label,
                                            message_id_for, notifications_for, other_parties, portal_page)

MENTOR, MENTEE = "M-mentor", "M-mentee"
IDS = dict(relationship_id="R1", mentor_id=MENTOR, mentee_id=MENTEE)
STARTS = datetime(2027, 1, 15, 14, 30, tzinfo=timezone.utc)


def heard(event) -> list[tuple[str, str, str, str, str | None]]:
    """(recipient, template, the role they are addressed in, their counterpart, the actor shown)."""
    return [(n.recipient_id, n.template, n.context.get("recipient_role"), n.about.get("counterpart"),
             n.about.get("actor")) for n in notifications_for(event)]


@pytest.mark.parametrize("event_type, template", [
    (ProposalSent, "proposal_received"),
    (ProposalReminderDue, "proposal_reminder"),
])
def test_the_mentor_hears_of_a_new_proposal_and_of_each_reminder(event_type, template):
    extra = {"day": 3} if event_type is ProposalReminderDue else {}
    assert heard(event_type(**IDS, **extra)) == [(MENTOR, template, "mentor", MENTEE, None)]
    # Who sent it does not change who hears: the mentor, shown the mentee as the actor.
    assert heard(event_type(**IDS, **extra, actor_id=MENTEE)) == [(MENTOR, template, "mentor", MENTEE, MENTEE)]


def test_an_expired_proposal_tells_the_mentee_with_at_most_three_other_mentors():
    alternatives = [AlternativeMentor(member_id=f"A{n}", name=f"Mentor {n}") for n in range(5)]
    [note] = notifications_for(ProposalExpired(**IDS, alternatives=alternatives))
    assert (note.recipient_id, note.template, note.context["recipient_role"]) == (MENTEE, "proposal_expired",
                                                                                "mentee")
    assert note.about == {"counterpart": MENTOR}
    assert [a["member_id"] for a in note.context["alternatives"]] == ["A0", "A1", "A2"]
    assert MAX_ALTERNATIVES == 3


@pytest.mark.parametrize("event_type, template, usual_actor", [
    (ProposalAccepted, "proposal_accepted", MENTOR),
    (ProposalRejected, "proposal_rejected", MENTOR),
    (ProposalWithdrawn, "proposal_withdrawn", MENTEE),
    (ProposalEdited, "proposal_edited", MENTEE),
])
def test_a_move_without_an_actor_is_the_usual_partys_and_only_the_other_hears(event_type, template, usual_actor):
    other = MENTEE if usual_actor == MENTOR else MENTOR
    role = "mentee" if other == MENTEE else "mentor"
    assert heard(event_type(**IDS)) == [(other, template, role, usual_actor, None)]
    # With an actor, the party who did not act hears, whichever that is.
    assert heard(event_type(**IDS, actor_id=usual_actor)) == [(other, template, role, usual_actor, usual_actor)]
    assert heard(event_type(**IDS, actor_id=other)) == [
        (usual_actor, template, "mentor" if usual_actor == MENTOR else "mentee", other, other)]


@pytest.mark.parametrize("event_type, template", [
    (ProposalReopened, "proposal_reopened"),
    (RelationshipWithdrawn, "relationship_withdrawn"),
    (RelationshipCompleted, "relationship_completed"),
])
def test_the_system_acting_tells_both_and_a_member_acting_tells_the_other(event_type, template):
    assert heard(event_type(**IDS)) == [(MENTOR, template, "mentor", MENTEE, None),
                                        (MENTEE, template, "mentee", MENTOR, None)]
    assert heard(event_type(**IDS, actor_id=MENTOR)) == [(MENTEE, template, "mentee", MENTOR, MENTOR)]
    assert heard(event_type(**IDS, actor_id=MENTEE)) == [(MENTOR, template, "mentor", MENTEE, MENTEE)]


def test_other_parties_with_a_usual_actor():
    assert other_parties(ProposalAccepted(**IDS), "mentor") == [MENTEE]
    assert other_parties(ProposalAccepted(**IDS), "mentee") == [MENTOR]
    assert other_parties(ProposalAccepted(**IDS)) == [MENTOR, MENTEE]
    assert other_parties(ProposalAccepted(**IDS, actor_id=MENTEE), "mentor") == [MENTOR]


def meeting(event_type, **changes):
    fields = dict(IDS, meeting_id="X1", starts_at=STARTS, duration_minutes=90, mode="video",
                  location_or_link="https://meet.example/abc", agenda="Goals for the year",
                  time_zone="Europe/Paris", sequence=2, actor_id=MENTEE)
    return event_type(**{**fields, **changes})


@pytest.mark.parametrize("event_type, template, cancelled", [
    (MeetingScheduled, "meeting_scheduled", False),
    (MeetingChanged, "meeting_changed", False),
    (MeetingCancelled, "meeting_cancelled", True),
])
def test_a_meeting_reaches_both_calendars_with_one_entry_in_their_time(event_type, template, cancelled):
    notes = notifications_for(meeting(event_type))
    # Both calendars hold the entry, the one who made the change included, each told in their role.
    assert [(n.recipient_id, n.template, n.context["recipient_role"], n.context["by_me"]) for n in notes] == [
        (MENTOR, template, "mentor", False), (MENTEE, template, "mentee", True)]
    note = notes[0]
    assert note.about == {"counterpart": MENTEE, "actor": MENTEE}
    assert notes[1].about == {"counterpart": MENTOR, "actor": MENTEE}
    assert note.invite == Invite(uid="meeting-X1@connect", sequence=2, starts_at=STARTS,
                                 ends_at=STARTS + timedelta(minutes=90), summary="Connect mentoring meeting",
                                 location="https://meet.example/abc", description="Goals for the year",
                                 cancelled=cancelled, organiser_id=MENTEE, attendee_ids=(MENTOR,))
    assert notes[1].invite == note.invite  # one UID and SEQUENCE in both calendars
    assert note.context["starts_at_local"] == "Friday 15 January 2027, 15:30"  # Paris is UTC+1 in winter
    assert note.context["time_zone"] == "Europe/Paris"
    assert note.context["starts_at_utc"] == "2027-01-15 14:30 UTC"
    # The organiser is who arranged the meeting, not who changed it last.
    arranged_by_mentor = notifications_for(meeting(event_type, organiser_id=MENTOR))
    assert {(n.invite.organiser_id, n.invite.attendee_ids) for n in arranged_by_mentor} == {(MENTOR, (MENTEE,))}
    # Scheduled by the system (no actor): both parties get the entry, neither made it.
    system = notifications_for(meeting(event_type, actor_id=None))
    assert [(n.recipient_id, n.context["by_me"]) for n in system] == [(MENTOR, False), (MENTEE, False)]


def test_a_meeting_in_an_unknown_time_zone_is_shown_in_utc():
    note = notifications_for(meeting(MeetingScheduled, time_zone="Nowhere/Town"))[0]
    assert (note.context["starts_at_local"], note.context["time_zone"]) == ("Friday 15 January 2027, 14:30", "UTC")
    note = notifications_for(meeting(MeetingScheduled, time_zone=""))[0]  # ZoneInfo("") is a ValueError
    assert note.context["time_zone"] == "UTC"


def test_a_message_emails_its_recipient_unless_an_earlier_one_is_still_unread():
    posted = dict(IDS, message_id="MSG1", sender_id=MENTOR, recipient_id=MENTEE, actor_id=MENTOR)
    assert heard(MessagePosted(**posted)) == [(MENTEE, "message_posted", "mentee", MENTOR, MENTOR)]
    assert notifications_for(MessagePosted(**posted, notify=False)) == []


def test_a_nudge_reaches_the_partner_nudged():
    assert heard(PartnerNudged(**IDS, recipient_id=MENTOR, actor_id=MENTEE)) == [
        (MENTOR, "partner_nudged", "mentor", MENTEE, MENTEE)]


@pytest.mark.parametrize("kind, label", [
    ("erasure", "permanently deleting your personal data"),
    ("contact_partner", "contacting your mentoring partner for you"),
    ("other", "your question"),
    ("something_new", "something_new"),
])
def test_a_support_request_is_acknowledged_and_its_resolution_told_to_the_member(kind, label):
    request = dict(request_id="S1", member_id=MENTEE, kind=kind)
    created, to_the_team = notifications_for(SupportRequestCreated(**request))
    assert (created.recipient_id, created.template, created.context) == (
        MENTEE, "support_request_received", {"kind": kind, "kind_label": label})
    # The customer service team's mailbox hears of every new request, and who made it.
    assert (to_the_team.recipient_id, to_the_team.template, to_the_team.about) == (
        SUPPORT_TEAM, "support_request_new", {"requester": MENTEE})
    assert to_the_team.context["kind_name"] == SUPPORT_KIND_NAMES.get(kind, kind)
    [resolved] = notifications_for(SupportRequestResolved(**request, outcome="declined", resolved_by="CS1",
                                                          note="We wrote to your partner"))
    # The requester reads the team's resolution note in the email.
    assert (resolved.recipient_id, resolved.template, resolved.context) == (
        MENTEE, "support_request_resolved", {"kind": kind, "outcome": "declined", "note": "We wrote to your partner",
                                             "kind_label": label})
    [without_note] = notifications_for(SupportRequestResolved(**request, outcome="done", resolved_by="CS1"))
    assert without_note.context["note"] == ""


def test_an_event_that_concerns_nobody_by_email_sends_nothing():
    assert notifications_for(MemberErased(member_id="M1")) == []


def test_the_message_id_names_the_event_and_recipient_under_the_notifiers_domain():
    expected = uuid.uuid5(uuid.NAMESPACE_URL, "connect:e1:A").hex
    assert message_id_for("e1", "A") == f"<{expected}@connect.notifier>"
    assert message_id_for("e1", "A", domain="mail.example") == f"<{expected}@mail.example>"


def test_who_can_be_reached_and_how_they_are_named():
    assert Recipient("M1", "Ada", "ada@example.org").reachable
    assert not Recipient("M1", "Ada", "ada@example.org", active=False).reachable
    assert not Recipient("M1", "Ada", "ada@example.org", erased=True).reachable
    assert not Recipient("M1", "Ada", None).reachable
    assert not Recipient("M1", "Ada", "").reachable
    assert Recipient("M1", "Ada\nLovelace", None).display_name == "Ada Lovelace"
    assert Recipient("M1", None, None).display_name == "a Connect member"
    assert Recipient("M1", "", None).display_name == "a Connect member"


@pytest.mark.parametrize("event, page", [
    (ProposalSent(**IDS), "/relationships/R1"),
    (ProposalAccepted(**IDS), "/relationships/R1/dashboard"),
    (ProposalExpired(**IDS), "/search"),
    (meeting(MeetingChanged), "/relationships/R1/meetings"),
    (MessagePosted(**IDS, message_id="X", sender_id=MENTOR, recipient_id=MENTEE), "/relationships/R1/messages"),
    (RelationshipCompleted(**IDS), "/relationships/R1/dashboard"),
    (SupportRequestResolved(request_id="S1", member_id=MENTEE, kind="other", outcome="done", resolved_by="CS"),
     "/support"),
    (RelationshipEndingSoon(**IDS, planned_end=STARTS), "/relationships/R1/dashboard"),
    (SupportMessageSentToPartner(**IDS, request_id="S1", recipient_id=MENTOR), "/relationships/R1"),
])
def test_each_email_links_to_the_portal_page_it_is_about(event, page):
    [note, *_] = notifications_for(event)
    assert portal_page(note.template, event) == page


def test_a_template_without_a_page_links_to_the_portal_home():
    assert portal_page("something_new", ProposalSent(**IDS)) == "/"
    assert portal_page("something_new", MemberErased(member_id="M1")) == "/"


def test_the_support_team_is_linked_to_the_new_request_in_its_queue():
    event = SupportRequestCreated(request_id="S7", member_id=MENTEE, kind="other")
    [_, to_the_team] = notifications_for(event)
    assert portal_page(to_the_team.template, event) == "/support/requests/S7"


def test_both_parties_hear_the_planned_end_is_near_with_its_date():
    notes = notifications_for(RelationshipEndingSoon(**IDS, planned_end=datetime(2027, 6, 1, 9, tzinfo=timezone.utc)))
    assert [(n.recipient_id, n.template, n.context["recipient_role"], n.about) for n in notes] == [
        (MENTOR, "relationship_ending_soon", "mentor", {"counterpart": MENTEE}),
        (MENTEE, "relationship_ending_soon", "mentee", {"counterpart": MENTOR})]
    assert [n.context["planned_end_date"] for n in notes] == ["Tuesday 01 June 2027"] * 2


@pytest.mark.parametrize("recipient, role, requester", [(MENTOR, "mentor", MENTEE), (MENTEE, "mentee", MENTOR)])
def test_the_teams_message_reaches_the_partner_told_who_asked(recipient, role, requester):
    event = SupportMessageSentToPartner(**IDS, actor_id="CS1", request_id="S1", recipient_id=recipient,
                                        message="Your mentee asked us to pass this on")
    [note] = notifications_for(event)
    assert (note.recipient_id, note.template, note.about, note.context) == (
        recipient, "support_message_to_partner", {"counterpart": requester}, {"recipient_role": role})


@pytest.mark.parametrize("event_type", [ProposalWithdrawn, RelationshipWithdrawn])
def test_a_withdrawal_says_when_the_partner_left_connect(event_type):
    [left] = notifications_for(event_type(**IDS, actor_id=MENTEE, account_deleted=True))
    assert (left.recipient_id, left.context["account_deleted"]) == (MENTOR, True)
    [withdrew] = notifications_for(event_type(**IDS, actor_id=MENTEE))
    assert withdrew.context["account_deleted"] is False


@pytest.mark.parametrize("name, label", [
    ("message", "message"), ("areas", "areas"), ("goals", "goals"), ("interaction_modes", "ways of meeting"),
    ("duration_months", "duration"), ("starts_at", "time"), ("duration_minutes", "length"),
    ("mode", "how you meet"), ("location_or_link", "place or link"), ("agenda", "agenda"),
    ("time_zone", "time zone"), ("some_new_field", "some new field"),
])
def test_an_email_names_a_changed_field_in_words(name, label):
    assert field_label(name) == label
