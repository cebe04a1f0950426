"""The workspace's and the account's rules at their edges: each limit accepted at the boundary and
refused one step past it with the field path and message, who hears of each move, and the
exact moment a meeting, a nudge or a reminder becomes possible.

Example-based and fast on purpose: `make mutation` runs these after each change it makes to
`workspace/domain.py` and `account/domain.py` (docs/testing.md)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from connect.errors import Conflict, Invalid
from schemas.events import MeetingCancelled, MeetingChanged, MeetingScheduled, MessagePosted, PartnerNudged, ToolSaved
from services.relationships.account.domain import (ACCOUNT_DELETED_REASON, AccountDeletedRefused, AlreadyDeleted,
                                                   CpdRow, NoSuchSupportRequest, SupportKind, SupportOutcome,
                                                   check_partner_message, check_resolution, check_support_request,
                                                   cpd_totals)
from services.relationships.workspace.domain import (Meeting, MeetingDetails, MeetingStatus, NudgeNotAllowed, Parties,
                                                     Tool, ToolKind,
                                                     WorkspaceInvalid, WorkspaceRefused, check_message_body,
                                                     check_time_zone, ice_breakers, normalise_tool_content, nudge,
                                                     nudge_refusal, post_message, shared_sentence)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
MENTOR, MENTEE = "MENTOR", "MENTEE"
ACCEPTED = Parties("R1", MENTOR, MENTEE, "accepted", NOW - timedelta(days=30))
IDS = dict(relationship_id="R1", mentor_id=MENTOR, mentee_id=MENTEE)


def parties(status: str, accepted_at: datetime | None = ACCEPTED.accepted_at) -> Parties:
    return Parties("R1", MENTOR, MENTEE, status, accepted_at)


def details(**changes) -> MeetingDetails:
    base = dict(starts_at=NOW + timedelta(days=1), duration_minutes=60, mode="video",
                location_or_link="Room 4", agenda="Goals", time_zone="Europe/London")
    return MeetingDetails(**{**base, **changes})


def invalid(call, *args, **kwargs) -> dict:
    with pytest.raises(WorkspaceInvalid) as refused:
        call(*args, **kwargs)
    return dict(refused.value.errors)


def refused(call, *args, **kwargs) -> WorkspaceRefused:
    with pytest.raises(WorkspaceRefused) as refusal:
        call(*args, **kwargs)
    return refusal.value


# --- who is in the workspace ----------------------------------------------------------------

def test_the_other_party_and_the_ids_of_an_event():
    assert (ACCEPTED.other(MENTOR), ACCEPTED.other(MENTEE)) == (MENTEE, MENTOR)
    assert ACCEPTED.ids("X") == {**IDS, "actor_id": "X"}


@pytest.mark.parametrize("status, accepted_at, is_open, readable", [
    ("accepted", NOW, True, True),
    ("completed", NOW, False, True),
    ("withdrawn", NOW, False, True),
    ("withdrawn", None, False, False),  # withdrawn before it was ever accepted
    ("completed", None, False, False),
    ("rejected", NOW, False, False),
    ("pending", None, False, False),
])
def test_the_workspace_opens_on_acceptance_and_stays_readable_after_it_ends(status, accepted_at, is_open, readable):
    p = parties(status, accepted_at)
    assert (p.workspace_open, p.workspace_readable) == (is_open, readable)
    if is_open:
        p.require_open("Meetings")
    else:
        refusal = refused(p.require_open, "Meetings")
        assert str(refusal) == f"Meetings are open once the relationship is accepted; it is {status}."
        assert (refusal.code, refusal.facts) == ("workspace-not-open", {"current_status": status})
    if readable:
        p.require_readable("Tools")
    else:
        refusal = refused(p.require_readable, "Tools")
        assert str(refusal) == f"Tools are open once the relationship is accepted; it is {status}."
        assert (refusal.code, refusal.facts) == ("workspace-not-open", {"current_status": status})


def test_a_refusal_about_the_thing_itself_is_a_plain_conflict():
    assert WorkspaceRefused("This meeting was cancelled.", meeting_status="cancelled").code == "conflict"


def test_time_zones_are_iana_names():
    assert check_time_zone("America/New_York") == "America/New_York"
    assert invalid(check_time_zone, "Nowhere/Town") == {
        "time_zone": "'Nowhere/Town' is not an IANA time zone such as Europe/London"}
    assert list(invalid(check_time_zone, "")) == ["time_zone"]


# --- meetings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("accepted, refused_value, errors", [
    (dict(starts_at=NOW + SECOND), dict(starts_at=NOW), {"starts_at": "must be in the future"}),
    (dict(starts_at=NOW + timedelta(days=730)), dict(starts_at=NOW + timedelta(days=730) + SECOND),
     {"starts_at": "must be within 730 days from now"}),
    (dict(duration_minutes=15), dict(duration_minutes=14), {"duration_minutes": "must be between 15 and 480"}),
    (dict(duration_minutes=480), dict(duration_minutes=481), {"duration_minutes": "must be between 15 and 480"}),
    (dict(mode="in_person"), dict(mode="phone"), {"mode": "must be one of in_person, video, email"}),
    (dict(mode="email"), dict(mode=""), {"mode": "must be one of in_person, video, email"}),
    (dict(location_or_link="l" * 500), dict(location_or_link="l" * 501),
     {"location_or_link": "must be at most 500 characters"}),
    (dict(agenda="a" * 5000), dict(agenda="a" * 5001), {"agenda": "must be at most 5000 characters"}),
    (dict(time_zone="Asia/Tokyo"), dict(time_zone="Mars/Olympus"),
     {"time_zone": "'Mars/Olympus' is not an IANA time zone such as Europe/London"}),
])
def test_each_meeting_limit_is_accepted_at_its_boundary_and_refused_past_it(accepted, refused_value, errors):
    meeting = Meeting.schedule("X", ACCEPTED, MENTEE, details(**accepted), NOW)
    assert meeting.details == details(**accepted)
    assert invalid(Meeting.schedule, "X", ACCEPTED, MENTEE, details(**refused_value), NOW) == errors


def test_a_meeting_time_needs_an_offset_and_every_fault_is_named_at_once():
    naive = details(starts_at=datetime(2027, 1, 1, 9, 0), duration_minutes=5, mode="phone", agenda="a" * 5001,
                    location_or_link="l" * 501, time_zone="Nowhere")
    assert invalid(naive.validate, NOW) == {
        "starts_at": "must carry a time zone offset (UTC: a trailing Z)",
        "duration_minutes": "must be between 15 and 480", "mode": "must be one of in_person, video, email",
        "location_or_link": "must be at most 500 characters", "agenda": "must be at most 5000 characters",
        "time_zone": "'Nowhere' is not an IANA time zone such as Europe/London"}


def meeting_event(event_type, meeting: Meeting, actor: str, **extra):
    d = meeting.details
    return event_type(**IDS, actor_id=actor, meeting_id=meeting.id, starts_at=d.starts_at,
                      duration_minutes=d.duration_minutes, mode=d.mode, location_or_link=d.location_or_link,
                      agenda=d.agenda, time_zone=d.time_zone, sequence=meeting.sequence,
                      organiser_id=meeting.organiser_id, **extra)


def test_scheduling_a_meeting_tells_the_calendar_everything():
    meeting = Meeting.schedule("X", ACCEPTED, MENTEE, details(), NOW)
    assert (meeting.id, meeting.relationship_id, meeting.organiser_id, meeting.status, meeting.sequence) == (
        "X", "R1", MENTEE, MeetingStatus.SCHEDULED, 0)
    assert (meeting.created_at, meeting.updated_at) == (NOW, NOW)
    assert meeting.events == [meeting_event(MeetingScheduled, meeting, MENTEE)]
    assert meeting.details.ends_at == NOW + timedelta(days=1, minutes=60)
    refusal = refused(Meeting.schedule, "X", parties("pending", None), MENTEE, details(), NOW)
    assert str(refusal) == "Meetings are open once the relationship is accepted; it is pending."


def test_changing_a_meeting_names_the_fields_in_order_and_raises_its_sequence():
    meeting = Meeting.schedule("X", ACCEPTED, MENTEE, details(), NOW)
    later = NOW + timedelta(hours=1)
    moved = NOW + timedelta(days=2)
    assert meeting.change(ACCEPTED, MENTOR, {"agenda": "New", "starts_at": moved}, later) == ["starts_at", "agenda"]
    assert (meeting.details.starts_at, meeting.details.agenda, meeting.sequence, meeting.updated_at) == (
        moved, "New", 1, later)
    assert meeting.events[-1] == meeting_event(MeetingChanged, meeting, MENTOR, changed_fields=["starts_at", "agenda"])
    for name, value in [("duration_minutes", 30), ("mode", "in_person"), ("location_or_link", "Cafe"),
                        ("time_zone", "Asia/Tokyo")]:
        assert meeting.change(ACCEPTED, MENTEE, {name: value}, later) == [name]
    assert meeting.sequence == 5
    # The same values again: nothing changes, no event, no new sequence.
    assert meeting.change(ACCEPTED, MENTOR, {"mode": "in_person"}, later) == []
    assert (meeting.sequence, len(meeting.events), meeting.updated_at) == (5, 6, later)


def test_a_change_is_held_to_the_same_limits_and_to_known_fields():
    meeting = Meeting.schedule("X", ACCEPTED, MENTEE, details(), NOW)
    assert invalid(meeting.change, ACCEPTED, MENTOR, {"status": "x", "colour": "red"}, NOW) == {
        "colour": "cannot be changed", "status": "cannot be changed"}
    assert invalid(meeting.change, ACCEPTED, MENTOR, {"duration_minutes": 481}, NOW) == {
        "duration_minutes": "must be between 15 and 480"}
    assert (meeting.details, meeting.sequence, len(meeting.events)) == (details(), 0, 1)


def test_a_meeting_can_change_until_the_second_it_starts():
    starts = NOW + timedelta(days=1)
    meeting = Meeting.schedule("X", ACCEPTED, MENTEE, details(), NOW)
    meeting.change(ACCEPTED, MENTOR, {"agenda": "Last minute"}, starts - SECOND)
    refusal = refused(meeting.change, ACCEPTED, MENTOR, {"agenda": "Too late"}, starts)
    assert str(refusal) == "This meeting has already started; it can no longer be changed."
    assert (refusal.code, refusal.facts) == ("conflict", {"meeting_status": "scheduled"})
    refused(meeting.cancel, ACCEPTED, MENTOR, starts)
    meeting.cancel(ACCEPTED, MENTOR, starts - SECOND, reason="Ill")
    assert meeting.events[-1] == meeting_event(MeetingCancelled, meeting, MENTOR, reason="Ill")
    assert (meeting.status, meeting.sequence, meeting.updated_at) == (MeetingStatus.CANCELLED, 2, starts - SECOND)


def test_a_cancelled_meeting_cannot_change_again():
    meeting = Meeting.schedule("X", ACCEPTED, MENTEE, details(), NOW)
    meeting.cancel(ACCEPTED, MENTEE, NOW)
    assert meeting.events[-1].reason is None
    refusal = refused(meeting.change, ACCEPTED, MENTOR, {"agenda": "x"}, NOW)
    assert (str(refusal), refusal.facts) == ("This meeting was cancelled.", {"meeting_status": "cancelled"})
    refused(meeting.cancel, ACCEPTED, MENTOR, NOW)
    closed = refused(Meeting.schedule("Y", ACCEPTED, MENTEE, details(), NOW).change, parties("completed"), MENTOR,
                     {"agenda": "x"}, NOW)
    assert str(closed) == "Meetings are open once the relationship is accepted; it is completed."


def test_an_ending_relationship_cancels_only_its_future_meetings():
    withdrawn = parties("withdrawn")
    future = Meeting.schedule("X", ACCEPTED, MENTEE, details(), NOW)
    future.change(ACCEPTED, MENTOR, {"agenda": "Moved on"}, NOW)
    future.cancel_for_withdrawal(withdrawn, MENTOR, NOW + timedelta(hours=1), ACCOUNT_DELETED_REASON)
    assert (future.status, future.sequence, future.updated_at) == (MeetingStatus.CANCELLED, 2,
                                                                   NOW + timedelta(hours=1))
    assert future.events[-1] == meeting_event(MeetingCancelled, future, MENTOR, reason="Account deleted")
    future.cancel_for_withdrawal(withdrawn, MENTOR, NOW + timedelta(hours=2), "again")  # already cancelled
    assert (future.sequence, len(future.events)) == (2, 3)
    started = Meeting.schedule("Y", ACCEPTED, MENTEE, details(), NOW)
    started.cancel_for_withdrawal(withdrawn, MENTOR, NOW + timedelta(days=1), "too late")  # the second it starts
    assert (started.status, started.sequence, len(started.events)) == (MeetingStatus.SCHEDULED, 0, 1)


def test_a_meeting_counts_as_held_once_it_is_over_and_not_cancelled():
    meeting = Meeting.schedule("X", ACCEPTED, MENTEE, details(), NOW)
    ends = NOW + timedelta(days=1, minutes=60)
    assert (meeting.held_by(ends - SECOND), meeting.held_by(ends)) == (False, True)
    meeting.cancel(ACCEPTED, MENTEE, NOW)
    assert meeting.held_by(ends + timedelta(days=1)) is False


# --- tools ------------------------------------------------------------------------------------

def test_an_empty_tool_has_every_field_of_its_kind():
    assert normalise_tool_content(ToolKind.SWOT, {}) == {"strengths": [], "weaknesses": [], "opportunities": [],
                                                         "threats": []}
    assert normalise_tool_content(ToolKind.GSTAR, {}) == {"goals": "", "situation": "", "thinking": "",
                                                          "actions": "", "results": ""}
    assert normalise_tool_content(ToolKind.GOALS, {"goal": "Chartered by June"}) == {
        "goal": "Chartered by June", "tasks": [], "success_criteria": "", "target_date": None,
        "status": "not_started", "learning_outcomes": ""}
    assert normalise_tool_content(ToolKind.AGREEMENT, {}) == {
        "contact_methods": "", "meeting_frequency": "", "meeting_place": "", "arranges_meetings": None,
        "other_practicalities": ""}


def test_texts_are_trimmed_blank_items_dropped_and_choices_kept():
    assert normalise_tool_content(ToolKind.SWOT, {"threats": ["  Time ", " ", "", "Money"]})["threats"] == [
        "Time", "Money"]
    assert normalise_tool_content(ToolKind.GSTAR, {"goals": "  Lead  "})["goals"] == "Lead"
    goals = normalise_tool_content(ToolKind.GOALS, {"goal": "g", "status": "achieved", "target_date": "2027-03-31"})
    assert (goals["status"], goals["target_date"]) == ("achieved", "2027-03-31")
    assert normalise_tool_content(ToolKind.AGREEMENT, {"arranges_meetings": "both"})["arranges_meetings"] == "both"


@pytest.mark.parametrize("kind, accepted, refused_content, errors", [
    (ToolKind.SWOT, {"strengths": ["s"] * 50}, {"strengths": ["s"] * 51}, {"strengths": "must have at most 50 items"}),
    (ToolKind.SWOT, {"weaknesses": ["a", "w" * 1000]}, {"weaknesses": ["a", "w" * 1001]},
     {"weaknesses.1": "must be at most 1000 characters"}),
    (ToolKind.SWOT, {"threats": []}, {"threats": "not a list"}, {"threats": "must be a list of texts"}),
    (ToolKind.SWOT, {"threats": ["t"]}, {"threats": ["t", 3]}, {"threats": "must be a list of texts"}),
    (ToolKind.GSTAR, {"results": "r" * 5000}, {"results": "r" * 5001}, {"results": "must be at most 5000 characters"}),
    (ToolKind.GSTAR, {"thinking": ""}, {"thinking": ["t"]}, {"thinking": "must be a text"}),
    (ToolKind.GOALS, {"goal": "g", "target_date": "2027-02-28"}, {"goal": "g", "target_date": "2027-02-30"},
     {"target_date": "must be a date such as 2027-03-31"}),
    (ToolKind.GOALS, {"goal": "g"}, {"goal": "g", "target_date": 20270331},
     {"target_date": "must be a date such as 2027-03-31"}),
    (ToolKind.GOALS, {"goal": "g", "status": "dropped"}, {"goal": "g", "status": "done"},
     {"status": "must be one of not_started, in_progress, achieved, dropped"}),
    (ToolKind.GOALS, {"goal": "g"}, {"goal": "  "}, {"goal": "must not be empty"}),
    (ToolKind.GOALS, {"goal": "g"}, {"tasks": ["t"]}, {"goal": "must not be empty"}),
    (ToolKind.GOALS, {"goal": "g"}, {"goal": 7}, {"goal": "must be a text"}),
    (ToolKind.AGREEMENT, {"arranges_meetings": "mentee"}, {"arranges_meetings": "nobody"},
     {"arranges_meetings": "must be one of mentor, mentee, both"}),
    (ToolKind.SWOT, {"strengths": []}, {"strengths": [], "goal": "g"}, {"goal": "is not a field of a swot tool"}),
])
def test_each_tool_limit_names_the_field_path(kind, accepted, refused_content, errors):
    normalise_tool_content(kind, accepted)
    assert invalid(normalise_tool_content, kind, refused_content) == errors


def test_a_tool_body_may_fill_64_kib_exactly_and_no_more():
    def body(pad: int) -> dict:
        return {"strengths": ["s" * 1000] * 50, "weaknesses": ["w" * 1000] * 15 + ["w" * pad]}

    empty = len(json.dumps(normalise_tool_content(ToolKind.SWOT, body(1))).encode()) - 1
    fits = 64 * 1024 - empty
    assert len(json.dumps(normalise_tool_content(ToolKind.SWOT, body(fits))).encode()) == 64 * 1024
    assert invalid(normalise_tool_content, ToolKind.SWOT, body(fits + 1)) == {
        "$": "the tool must be at most 64 KiB in all"}
    # A field error is reported on its own, not drowned by the size.
    assert invalid(normalise_tool_content, ToolKind.SWOT, {**body(fits + 1), "threats": "x"}) == {
        "threats": "must be a list of texts"}


def test_a_tool_keeps_every_saved_version_and_says_so():
    tool = Tool.create("T", ACCEPTED, ToolKind.GOALS, MENTEE, {"goal": "Chartered"}, NOW)
    assert (tool.id, tool.relationship_id, tool.kind, tool.created_at) == ("T", "R1", ToolKind.GOALS, NOW)
    assert (tool.current.number, tool.current.author_id, tool.current.at) == (1, MENTEE, NOW)
    assert tool.new_versions == [tool.current] and tool.etag == '"T.1"'
    assert tool.events == [ToolSaved(**IDS, actor_id=MENTEE, kind="goals", tool_id="T", version=1)]
    later = NOW + timedelta(hours=1)
    assert tool.amend(ACCEPTED, MENTOR, {"goal": "Chartered"}, later) is False
    assert (len(tool.new_versions), len(tool.events)) == (1, 1)
    assert tool.amend(ACCEPTED, MENTOR, {"goal": "Chartered", "status": "in_progress"}, later) is True
    assert (tool.current.number, tool.current.author_id, tool.current.at) == (2, MENTOR, later)
    assert tool.current.content["status"] == "in_progress"
    assert tool.new_versions[-1] is tool.current and len(tool.new_versions) == 2
    assert tool.events[-1] == ToolSaved(**IDS, actor_id=MENTOR, kind="goals", tool_id="T", version=2)
    assert tool.etag == '"T.2"'
    closed = refused(tool.amend, parties("completed"), MENTOR, {"goal": "Later"}, later)
    assert str(closed) == "The first-conversation tools are open once the relationship is accepted; it is completed."
    assert str(refused(Tool.create, "T2", parties("pending", None), ToolKind.SWOT, MENTEE, {}, NOW)).startswith(
        "The first-conversation tools are open")


# --- messages and nudges -----------------------------------------------------------------------

def test_a_message_body_is_not_blank_and_at_most_5000_characters():
    assert check_message_body("b" * 5000) == "b" * 5000
    assert invalid(check_message_body, "b" * 5001) == {"body": "must be at most 5000 characters"}
    assert invalid(check_message_body, " \n") == {"body": "must not be empty"}


@pytest.mark.parametrize("status", ["pending", "accepted"])
def test_a_live_relationship_takes_messages_for_the_other_party(status):
    event = post_message(parties(status), "m1", MENTOR, "Hello", email_outstanding=False)
    assert event == MessagePosted(**IDS, actor_id=MENTOR, message_id="m1", sender_id=MENTOR, recipient_id=MENTEE,
                                  notify=True)
    assert post_message(parties(status), "m2", MENTEE, "Hi", email_outstanding=True).notify is False


@pytest.mark.parametrize("status", ["rejected", "withdrawn", "expired", "completed"])
def test_an_ended_relationship_takes_no_messages(status):
    refusal = refused(post_message, parties(status), "m1", MENTOR, "Hello", email_outstanding=False)
    assert str(refusal) == f"The relationship is {status}; messages can no longer be sent."
    assert refusal.facts == {"current_status": status}
    assert invalid(post_message, ACCEPTED, "m1", MENTOR, "", email_outstanding=False) == {"body": "must not be empty"}


def test_a_quiet_partner_can_be_nudged_after_14_days_and_then_once_a_week():
    last_active = NOW - timedelta(days=14)
    assert nudge_refusal(ACCEPTED, last_active, None, NOW) is None
    assert nudge_refusal(ACCEPTED, last_active + SECOND, None, NOW).detail == (
        "Your partner was active on 2026-11-17; give them 14 days before a nudge.")
    # Never active: quiet since the acceptance.
    recent = parties("accepted", NOW - timedelta(days=13))
    assert nudge_refusal(recent, None, None, NOW).detail == (
        "Your partner was active on 2026-11-18; give them 14 days before a nudge.")
    assert nudge_refusal(parties("accepted", None), None, None, NOW) is None
    assert nudge_refusal(ACCEPTED, None, NOW - timedelta(days=7), NOW) is None
    assert nudge_refusal(ACCEPTED, None, NOW - timedelta(days=7) + SECOND, NOW).detail == (
        "You nudged your partner on 2026-11-24; at most one nudge every 7 days.")
    assert nudge_refusal(parties("completed"), None, None, NOW).detail == (
        "Only a partner in an accepted relationship can be nudged; it is completed.")


def test_a_nudge_reaches_the_other_party_or_is_refused_with_the_reason():
    assert nudge(ACCEPTED, MENTEE, None, None, NOW) == PartnerNudged(**IDS, actor_id=MENTEE, recipient_id=MENTOR)
    assert nudge(ACCEPTED, MENTOR, None, None, NOW) == PartnerNudged(**IDS, actor_id=MENTOR, recipient_id=MENTEE)
    with pytest.raises(NudgeNotAllowed) as recently:
        nudge(ACCEPTED, MENTOR, None, NOW - timedelta(days=1), NOW)
    assert str(recently.value).startswith("You nudged your partner on 2026-11-30")
    assert recently.value.why == "nudged_recently" and recently.value.allowed_from == NOW + timedelta(days=6)
    with pytest.raises(NudgeNotAllowed) as active:
        nudge(ACCEPTED, MENTOR, NOW - timedelta(days=1), None, NOW)
    assert str(active.value).startswith("Your partner was active on 2026-11-30")
    assert active.value.why == "partner_active" and active.value.allowed_from == NOW + timedelta(days=13)


def test_a_refused_nudge_tells_the_member_why_and_from_when_in_its_problem_facts():
    """What the problem document carries (connect/errors.py: `facts` become its members)."""
    with pytest.raises(NudgeNotAllowed) as recently:
        nudge(ACCEPTED, MENTOR, None, NOW - timedelta(days=1), NOW)
    assert (recently.value.code, recently.value.facts) == (
        "nudge-not-allowed", {"why": "nudged_recently", "allowed_from": "2026-12-07T09:00:00Z"})
    with pytest.raises(NudgeNotAllowed) as active:
        nudge(ACCEPTED, MENTEE, NOW - timedelta(days=1), None, NOW)
    assert active.value.facts == {"why": "partner_active", "allowed_from": "2026-12-14T09:00:00Z"}
    with pytest.raises(NudgeNotAllowed) as closed:
        nudge(parties("completed"), MENTEE, None, None, NOW)
    assert closed.value.facts == {"why": "relationship_not_accepted", "current_status": "completed"}
    assert (closed.value.why, closed.value.allowed_from) == ("relationship_not_accepted", None)


def test_the_ice_breakers_name_what_the_two_share_then_the_proposal_then_the_faq():
    shared = [{"kind": "sectors", "values": ["insurance", "pensions"]}, {"values": [1995]},
              {"kind": "skills", "values": []}, {"kind": "region"}]
    assert ice_breakers(["career_planning", "leadership"], shared, 9) == [
        "You both work in insurance and pensions. How did that shape your career so far?",
        "You share 1995. How did that shape your career so far?",
        "The proposal names Career planning and Leadership and management: which matters most right now?",
        "What are you working on at the moment, and what is the hardest part of it?",
        "Which career accomplishment are you most proud of, and why?",
        "What would make this mentoring relationship a success for you in 9 months?",
        "How do you prefer to keep in touch, how often shall we meet, and who sets the meetings up?",
    ]
    assert len(ice_breakers([], [], 3)) == 4


@pytest.mark.parametrize("kind, values, sentence", [
    ("languages", ["cy", "de"], "You both speak Welsh and German."),
    ("sectors", ["banking"], "You both work in Banking."),
    ("employer", ["Aviva", "Lloyd's"], "You both work for Aviva and Lloyd's."),
    ("region", ["africa", "americas", "asia_pacific"], "You are both based in Africa, Americas and Asia-Pacific."),
    ("qualifications", ["acii"], "You both hold Advanced Diploma in Insurance (ACII)."),
    ("interests", ["sailing", "", "chess"], "You share an interest in sailing and chess."),
    ("employer", ["banking"], "You both work for banking."),  # a free tag is never read as a vocabulary id
    ("something_new", ["x"], "You share x."),
    ("languages", [], None),
    ("interests", ["", None], None),
])
def test_what_two_members_share_reads_as_a_sentence_in_labels(kind, values, sentence):
    assert shared_sentence(kind, values) == sentence


# --- the account: support requests and the CPD record -------------------------------------------

def test_a_support_request_says_what_is_needed():
    check_support_request(SupportKind.ERASURE, None, "")  # the request itself says it all
    check_support_request(SupportKind.CONTACT_PARTNER, "R1", "m" * 5000)
    with pytest.raises(Invalid) as refusal:
        check_support_request(SupportKind.CONTACT_PARTNER, None, "Please pass a message on")
    assert refusal.value.errors == {"relationship_id": "is required to contact a partner on your behalf"}
    with pytest.raises(Invalid) as refusal:
        check_support_request(SupportKind.OTHER, None, "m" * 5001)
    assert refusal.value.errors == {"message": "must be at most 5000 characters"}
    with pytest.raises(Invalid) as refusal:
        check_support_request(SupportKind.OTHER, None, "  ")
    assert refusal.value.errors == {"message": "must say what you need"}
    with pytest.raises(Invalid) as refusal:
        check_support_request(SupportKind.CONTACT_PARTNER, "", "")
    assert refusal.value.errors == {"relationship_id": "is required to contact a partner on your behalf",
                                    "message": "must say what you need"}


@pytest.mark.parametrize("kind, outcome, error", [
    (SupportKind.ERASURE, SupportOutcome.APPROVED, None),
    (SupportKind.ERASURE, SupportOutcome.DECLINED, None),
    (SupportKind.ERASURE, SupportOutcome.DONE, "an erasure request is approved or declined"),
    (SupportKind.OTHER, SupportOutcome.DONE, None),
    (SupportKind.CONTACT_PARTNER, SupportOutcome.DECLINED, None),
    (SupportKind.CONTACT_PARTNER, SupportOutcome.APPROVED, "only an erasure request is approved; use done or declined"),
])
def test_an_outcome_fits_the_kind_of_request(kind, outcome, error):
    if error is None:
        check_resolution(kind, "open", outcome)
    else:
        with pytest.raises(Invalid) as refusal:
            check_resolution(kind, "open", outcome)
        assert refusal.value.errors == {"outcome": error}


def test_a_resolved_request_cannot_be_resolved_again():
    with pytest.raises(Conflict) as refusal:
        check_resolution(SupportKind.ERASURE, "resolved", SupportOutcome.APPROVED)
    assert (str(refusal.value), refusal.value.facts) == ("This support request is already resolved.",
                                                         {"request_status": "resolved"})


def test_the_team_writes_to_the_partner_only_for_an_open_contact_partner_request():
    assert check_partner_message(SupportKind.CONTACT_PARTNER, "open", "R1", "b" * 5000) == "b" * 5000
    assert check_partner_message(SupportKind.CONTACT_PARTNER, "open", "R1", "Hi") == "Hi"
    for kind, relationship_id in ((SupportKind.OTHER, "R1"), (SupportKind.ERASURE, "R1"),
                                  (SupportKind.CONTACT_PARTNER, None), (SupportKind.CONTACT_PARTNER, "")):
        with pytest.raises(Conflict) as refusal:
            check_partner_message(kind, "open", relationship_id, "Hi")
        assert (str(refusal.value), refusal.value.code, refusal.value.facts) == (
            "Only a contact_partner request lets the team write to the member's partner.",
            "not-a-contact-partner-request", {"request_kind": kind.value})
    with pytest.raises(Conflict) as refusal:
        check_partner_message(SupportKind.CONTACT_PARTNER, "resolved", "R1", "Hi")
    assert (str(refusal.value), refusal.value.facts) == ("This support request is already resolved.",
                                                         {"request_status": "resolved"})


@pytest.mark.parametrize("body, error", [
    (" \n ", "must say what you want to tell the partner"),
    ("", "must say what you want to tell the partner"),
    ("b" * 5001, "must be at most 5000 characters"),
])
def test_a_message_to_the_partner_says_something_in_at_most_5000_characters(body, error):
    with pytest.raises(Invalid) as refusal:
        check_partner_message(SupportKind.CONTACT_PARTNER, "open", "R1", body)
    assert refusal.value.errors == {"body": error}


def test_the_cpd_totals_count_meetings_minutes_relationships_and_goals():
    rows = [CpdRow("meeting", "R1", "mentee", "Ada", "2027-01-01", 60),
            CpdRow("meeting", "R1", "mentee", "Ada", "2027-02-01", None),
            CpdRow("meeting", "R2", "mentee", "Bob", "2027-02-02", 45),
            CpdRow("relationship", "R1", "mentee", "Ada", "2026-12-01"),
            CpdRow("relationship", "R1", "mentee", "Ada", "2026-12-01"),
            CpdRow("relationship", "R2", "mentee", "Bob", "2027-01-01"),
            CpdRow("goal", "R1", "mentee", "Ada", "2027-01-05", title="Chartered")]
    assert cpd_totals(rows) == {"meetings_held": 3, "meeting_minutes": 105, "relationships": 2, "goals": 1}
    assert cpd_totals([]) == {"meetings_held": 0, "meeting_minutes": 0, "relationships": 0, "goals": 0}


def test_the_account_refusals_say_what_to_do():
    deleted = AccountDeletedRefused()
    assert deleted.code == "account-deleted"
    assert str(deleted) == ("This account was deleted; it can no longer use Connect. Contact the customer service "
                            "team to restore it or to have your personal data erased.")
    assert (AlreadyDeleted().code, str(AlreadyDeleted())) == ("account-deleted", "This account is already deleted.")
    assert str(NoSuchSupportRequest("S9")) == "No support request S9 of yours."
