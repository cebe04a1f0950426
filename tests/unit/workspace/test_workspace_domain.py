"""The workspace's rules on their own: meetings, tools, messages, nudges, support outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connect.errors import Conflict, Invalid
from schemas.events import MeetingCancelled, MeetingChanged, MeetingScheduled
from services.relationships.account.domain import SupportKind, SupportOutcome, check_resolution
from services.relationships.workspace.domain import (MAX_TOOL_BYTES, Meeting, MeetingDetails, Parties, Tool,
                                                     ToolKind, WorkspaceInvalid, WorkspaceRefused, ice_breakers,
                                                     normalise_tool_content, nudge_refusal, post_message)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
ACCEPTED = Parties("R1", "MENTOR", "MENTEE", "accepted", NOW - timedelta(days=30))


def details(**changes):
    base = {"starts_at": NOW + timedelta(days=1), "duration_minutes": 60, "mode": "video"}
    return MeetingDetails(**{**base, **changes})


def test_meeting_sequence_rises_with_each_change_and_the_cancellation():
    meeting = Meeting.schedule("X", ACCEPTED, "MENTEE", details(), NOW)
    assert meeting.change(ACCEPTED, "MENTOR", {"agenda": "Goals"}, NOW) == ["agenda"]
    assert meeting.change(ACCEPTED, "MENTOR", {"agenda": "Goals"}, NOW) == []  # no change, no event
    meeting.cancel(ACCEPTED, "MENTEE", NOW)
    assert [(type(e), e.sequence, e.actor_id) for e in meeting.events] == [
        (MeetingScheduled, 0, "MENTEE"), (MeetingChanged, 1, "MENTOR"), (MeetingCancelled, 2, "MENTEE")]
    with pytest.raises(WorkspaceRefused):
        meeting.cancel(ACCEPTED, "MENTEE", NOW)


@pytest.mark.parametrize("bad, field", [
    ({"starts_at": NOW}, "starts_at"),
    ({"starts_at": NOW + timedelta(days=800)}, "starts_at"),
    ({"duration_minutes": 14}, "duration_minutes"),
    ({"duration_minutes": 481}, "duration_minutes"),
    ({"mode": "phone"}, "mode"),
    ({"time_zone": "Nowhere/Town"}, "time_zone"),
])
def test_meeting_limits(bad, field):
    with pytest.raises(WorkspaceInvalid) as refused:
        Meeting.schedule("X", ACCEPTED, "MENTEE", details(**bad), NOW)
    assert list(refused.value.errors) == [field]


def test_started_meetings_and_closed_relationships_cannot_change():
    meeting = Meeting.schedule("X", ACCEPTED, "MENTEE", details(), NOW)
    with pytest.raises(WorkspaceRefused):
        meeting.change(ACCEPTED, "MENTOR", {"agenda": "late"}, NOW + timedelta(days=2))
    withdrawn = Parties("R1", "MENTOR", "MENTEE", "withdrawn", ACCEPTED.accepted_at)
    with pytest.raises(WorkspaceRefused):
        meeting.cancel(withdrawn, "MENTOR", NOW)
    meeting.cancel_for_withdrawal(withdrawn, "MENTOR", NOW, "Account deleted")
    assert meeting.status.value == "cancelled" and meeting.held_by(NOW + timedelta(days=3)) is False


def test_tool_versions_only_when_content_changes():
    tool = Tool.create("T", ACCEPTED, ToolKind.SWOT, "MENTEE", {"strengths": [" Writing ", ""]}, NOW)
    assert tool.current.content == {"strengths": ["Writing"], "weaknesses": [], "opportunities": [], "threats": []}
    assert tool.amend(ACCEPTED, "MENTOR", {"strengths": ["Writing"]}, NOW) is False
    assert tool.amend(ACCEPTED, "MENTOR", {"strengths": ["Writing", "Listening"]}, NOW) is True
    assert [v.number for v in tool.new_versions] == [1, 2] and tool.etag == '"T.2"'
    pending = Parties("R1", "MENTOR", "MENTEE", "pending")
    with pytest.raises(WorkspaceRefused):
        Tool.create("T2", pending, ToolKind.GOALS, "MENTEE", {"goal": "g"}, NOW)


def test_tool_size_limit_applies_to_the_whole_body():
    content = {name: "x" * 5000 for name in ("goals", "situation", "thinking", "actions", "results")}
    assert normalise_tool_content(ToolKind.GSTAR, content)  # 25 KB: fine
    many = {"strengths": ["y" * 1000] * 50, "weaknesses": ["z" * 1000] * 50}
    with pytest.raises(WorkspaceInvalid) as refused:
        normalise_tool_content(ToolKind.SWOT, many)
    assert refused.value.errors == {"$": f"the tool must be at most {MAX_TOOL_BYTES // 1024} KiB in all"}


def test_messages_and_nudges_follow_the_relationship():
    event = post_message(ACCEPTED, "m1", "MENTEE", "Hello", email_outstanding=True)
    assert event.recipient_id == "MENTOR" and event.notify is False
    with pytest.raises(WorkspaceRefused):
        post_message(Parties("R1", "MENTOR", "MENTEE", "completed", NOW), "m2", "MENTEE", "Hi", email_outstanding=False)
    assert nudge_refusal(ACCEPTED, None, None, NOW) is None  # accepted 30 days ago, silent since
    quiet = nudge_refusal(ACCEPTED, NOW - timedelta(days=3), None, NOW)
    assert "active on" in quiet.detail and quiet.why == "partner_active"
    assert quiet.allowed_from == NOW + timedelta(days=11)
    recent = nudge_refusal(ACCEPTED, None, NOW - timedelta(days=2), NOW)
    assert "at most one" in recent.detail and recent.code == "nudge-not-allowed"
    assert recent.allowed_from == NOW + timedelta(days=5)


def test_support_outcomes_fit_the_kind():
    check_resolution(SupportKind.ERASURE, "open", SupportOutcome.APPROVED)
    with pytest.raises(Invalid):
        check_resolution(SupportKind.OTHER, "open", SupportOutcome.APPROVED)
    with pytest.raises(Conflict):
        check_resolution(SupportKind.OTHER, "resolved", SupportOutcome.DONE)


def test_ice_breakers_start_with_what_the_two_share():
    prompts = ice_breakers(["career_planning", "leadership"], [{"kind": "languages", "values": ["en", "cy"]},
                                                               {"kind": "employer", "values": ["acme"]}], 6)
    assert prompts[0].startswith("You both speak English and Welsh.")
    assert prompts[1].startswith("You both work for acme.")
    assert prompts[2] == ("The proposal names Career planning and Leadership and management: which matters most "
                          "right now?")
    assert "6 months" in " ".join(prompts)


def test_any_sequence_of_meeting_moves_keeps_the_calendar_consistent():
    """Whatever either party does, in any order: every event raises SEQUENCE by one, a refused
    move changes nothing, and nothing follows a cancellation."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    move = st.tuples(st.sampled_from(["change", "cancel", "noop_change"]), st.sampled_from(["MENTOR", "MENTEE"]),
                     st.integers(min_value=-2, max_value=3), st.integers(min_value=0, max_value=600))

    @settings(max_examples=150, deadline=None)
    @given(st.lists(move, max_size=12))
    def check(moves):
        meeting = Meeting.schedule("X", ACCEPTED, "MENTEE", details(), NOW)
        for kind, actor, days, minutes in moves:
            before = (meeting.details, meeting.status, meeting.sequence, len(meeting.events))
            try:
                if kind == "cancel":
                    meeting.cancel(ACCEPTED, actor, NOW)
                elif kind == "change":
                    meeting.change(ACCEPTED, actor, {"starts_at": NOW + timedelta(days=days),
                                                     "duration_minutes": minutes}, NOW)
                else:
                    meeting.change(ACCEPTED, actor, {}, NOW)
            except (WorkspaceInvalid, WorkspaceRefused):
                assert (meeting.details, meeting.status, meeting.sequence, len(meeting.events)) == before
        assert [e.sequence for e in meeting.events] == list(range(len(meeting.events)))
        assert meeting.sequence == len(meeting.events) - 1
        kinds = [type(e) for e in meeting.events]
        assert MeetingCancelled not in kinds[:-1]
        assert kinds[0] is MeetingScheduled

    check()
