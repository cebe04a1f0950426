"""Every rule of the relationship aggregate at its edge: each limit accepted at the boundary and
refused one step past it (with the field path and message a member reads), each move's record
(who, when, why) and event, and the timers on the exact second they fall due.

Example-based and fast on purpose: `make mutation` runs these after each change it makes to
`proposals/domain.py` (docs/testing.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schemas.events import (AlternativeMentor, ProposalAccepted, ProposalEdited, ProposalExpired, ProposalRejected,
                            ProposalReminderDue, ProposalReopened, ProposalSent, ProposalWithdrawn,
                            RelationshipCompleted, RelationshipEndingSoon, RelationshipWithdrawn)
from services.relationships.proposals.domain import (PLANNED_END_REASON, Action, InvalidProposal, MentorUnavailable,
                                                     MoveRefused, NoSuchRelationship, ProposalContent,
                                                     ProposalVersion, Relationship, RelationshipExists,
                                                     ReminderOutcome, Role, Status, StatusChange, TimerDue,
                                                     first_line, planned_end, why_suggested)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
MENTOR, MENTEE, STRANGER = "M-mentor", "M-mentee", "M-stranger"
CONTENT = ProposalContent("Please mentor me", ("career_planning",), "Grow", ("video",), 6)


def content(**changes) -> ProposalContent:
    fields = dict(message=CONTENT.message, areas=CONTENT.areas, goals=CONTENT.goals,
                  interaction_modes=CONTENT.interaction_modes, duration_months=CONTENT.duration_months)
    return ProposalContent(**{**fields, **changes})


def proposed(at: datetime = T0) -> Relationship:
    return Relationship.propose("R1", MENTOR, MENTEE, CONTENT, at)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def refusal(move, *args) -> MoveRefused:
    with pytest.raises(MoveRefused) as refused:
        move(*args)
    return refused.value


# --- the proposal's content ---------------------------------------------------------------

@pytest.mark.parametrize("accepted, refused, errors", [
    (dict(duration_months=1), dict(duration_months=0), {"duration_months": "must be between 1 and 12"}),
    (dict(duration_months=12), dict(duration_months=13), {"duration_months": "must be between 1 and 12"}),
    (dict(message="x" * 5000), dict(message="x" * 5001), {"message": "must be at most 5000 characters"}),
    (dict(message="x"), dict(message=" \n "), {"message": "must not be empty"}),
    (dict(goals="g" * 5000), dict(goals="g" * 5001), {"goals": "must be at most 5000 characters"}),
    (dict(areas=("a",) * 20), dict(areas=("a",) * 21), {"areas": "must list at most 20 areas"}),
])
def test_each_limit_is_accepted_at_its_boundary_and_refused_one_past_it(accepted, refused, errors):
    rel = Relationship.propose("R1", MENTOR, MENTEE, content(**accepted), T0)
    assert rel.proposal.content == content(**accepted)
    with pytest.raises(InvalidProposal) as invalid:
        Relationship.propose("R1", MENTOR, MENTEE, content(**refused), T0)
    assert invalid.value.errors == errors


def test_every_broken_rule_is_named_at_once():
    with pytest.raises(InvalidProposal) as invalid:
        content(message="", goals="g" * 5001, areas=("a",) * 21, duration_months=0).validate()
    assert invalid.value.errors == {"duration_months": "must be between 1 and 12", "message": "must not be empty",
                                    "goals": "must be at most 5000 characters", "areas": "must list at most 20 areas"}


def test_a_member_cannot_propose_to_themselves():
    with pytest.raises(InvalidProposal) as invalid:
        Relationship.propose("R1", MENTOR, MENTOR, CONTENT, T0)
    assert invalid.value.errors == {"mentor_id": "you cannot send a proposal to yourself"}


@pytest.mark.parametrize("field, value", [
    ("message", "Another message"), ("areas", ("leadership",)), ("goals", "Lead"),
    ("interaction_modes", ("email",)), ("duration_months", 7),
])
def test_changed_fields_names_exactly_what_changed(field, value):
    assert CONTENT.changed_fields(content(**{field: value})) == [field]
    assert CONTENT.changed_fields(content()) == []


# --- proposing ---------------------------------------------------------------------------

def test_a_proposal_starts_pending_with_version_one_and_tells_the_mentor():
    rel = proposed()
    assert (rel.id, rel.mentor_id, rel.mentee_id, rel.status) == ("R1", MENTOR, MENTEE, Status.PENDING)
    assert (rel.created_at, rel.updated_at, rel.cycle, rel.cycle_started_at) == (T0, T0, 1, T0)
    assert rel.proposal == ProposalVersion(1, CONTENT, MENTEE, T0)
    assert rel.new_versions == [rel.proposal]
    assert rel.new_changes == [StatusChange(Action.PROPOSE, None, Status.PENDING, MENTEE, Role.MENTEE, T0)]
    assert rel.events == [ProposalSent(relationship_id="R1", mentor_id=MENTOR, mentee_id=MENTEE, actor_id=MENTEE,
                                       reason=None, message="Please mentor me", areas=["career_planning"],
                                       goals="Grow", interaction_modes=["video"], duration_months=6)]
    assert (rel.withdrawn_by, rel.accepted_at, rel.planned_end) == (None, None, None)
    assert rel.is_open


def test_each_party_is_offered_their_own_moves_and_a_stranger_none():
    rel = proposed()
    assert (rel.role_of(MENTOR), rel.role_of(MENTEE), rel.role_of(STRANGER)) == (Role.MENTOR, Role.MENTEE, None)
    assert rel.actions_for(MENTOR) == [Action.ACCEPT, Action.REJECT]
    assert rel.actions_for(MENTEE) == [Action.WITHDRAW, Action.EDIT]
    assert rel.actions_for(STRANGER) == []
    rel.withdraw(MENTEE, day(1))
    assert (rel.actions_for(MENTEE), rel.actions_for(MENTOR)) == ([Action.REOPEN], [])
    assert not rel.is_open


# --- member moves --------------------------------------------------------------------------

def test_accepting_records_who_when_and_why_and_plans_the_end():
    rel = proposed()
    rel.accept(MENTOR, day(2), "  Happy to help  ")
    assert rel.status is Status.ACCEPTED and rel.updated_at == day(2)
    assert rel.new_changes[-1] == StatusChange(Action.ACCEPT, Status.PENDING, Status.ACCEPTED, MENTOR, Role.MENTOR,
                                               day(2), "Happy to help")
    assert rel.events[-1] == ProposalAccepted(**ids(MENTOR, "Happy to help"))
    assert rel.accepted_at == day(2)
    assert rel.planned_end == datetime(2027, 6, 3, 9, 0, tzinfo=timezone.utc)  # six months on
    assert rel.is_open


def ids(actor_id, reason=None) -> dict:
    return dict(relationship_id="R1", mentor_id=MENTOR, mentee_id=MENTEE, actor_id=actor_id, reason=reason)


def test_a_reason_is_trimmed_kept_up_to_2000_characters_and_refused_past_that():
    rel = proposed()
    with pytest.raises(InvalidProposal) as invalid:
        rel.reject(MENTOR, day(1), "r" * 2001)
    assert invalid.value.errors == {"reason": "must be at most 2000 characters"}
    assert rel.status is Status.PENDING and rel.events[-1].TYPE == ProposalSent.TYPE
    rel.reject(MENTOR, day(1), " " + "r" * 2000 + " ")
    assert rel.new_changes[-1].reason == "r" * 2000
    assert rel.events[-1] == ProposalRejected(**ids(MENTOR, "r" * 2000))
    blank = proposed()
    blank.reject(MENTOR, day(1), "   ")
    assert blank.new_changes[-1].reason is None and blank.events[-1].reason is None


def test_rejecting_and_reopening_by_the_mentor_starts_a_new_cycle():
    rel = proposed()
    rel.send_reminder(3, day(3))
    rel.reject(MENTOR, day(4), "Too busy")
    assert rel.new_changes[-1] == StatusChange(Action.REJECT, Status.PENDING, Status.REJECTED, MENTOR, Role.MENTOR,
                                               day(4), "Too busy")
    assert rel.actions_for(MENTOR) == [Action.REOPEN] and rel.actions_for(MENTEE) == []
    rel.reopen(MENTOR, day(10), "Free now")
    assert rel.new_changes[-1] == StatusChange(Action.REOPEN, Status.REJECTED, Status.PENDING, MENTOR, Role.MENTOR,
                                               day(10), "Free now")
    assert rel.events[-1] == ProposalReopened(**ids(MENTOR, "Free now"))
    assert (rel.status, rel.cycle, rel.cycle_started_at, rel.reminders_done) == (Status.PENDING, 2, day(10),
                                                                                  frozenset())
    assert rel.updated_at == day(10)
    assert rel.next_timer_at() == day(13)


def test_withdrawing_a_pending_proposal_or_a_running_relationship():
    pending = proposed()
    pending.withdraw(MENTEE, day(1), "Found another mentor")
    assert pending.withdrawn_by == MENTEE
    assert pending.new_changes[-1] == StatusChange(Action.WITHDRAW, Status.PENDING, Status.WITHDRAWN, MENTEE,
                                                   Role.MENTEE, day(1), "Found another mentor")
    assert pending.events[-1] == ProposalWithdrawn(**ids(MENTEE, "Found another mentor"))
    running = proposed()
    running.accept(MENTOR, day(1))
    running.withdraw(MENTOR, day(5))
    assert running.new_changes[-1].actor_role is Role.MENTOR
    assert running.events[-1] == RelationshipWithdrawn(**ids(MENTOR))
    assert running.withdrawn_by == MENTOR


def test_reopening_after_a_withdrawal_forgets_the_acceptance():
    rel = proposed()
    rel.accept(MENTOR, day(1))
    rel.withdraw(MENTEE, day(5))
    refused = refusal(rel.reopen, MENTOR, day(6))
    assert str(refused) == "Only the party who withdrew can reopen this relationship."
    assert str(refusal(rel.complete, MENTEE, day(6))) == (
        "The relationship is withdrawn; as the mentee you cannot complete it now.")
    rel.reopen(MENTEE, day(6))
    assert (rel.withdrawn_by, rel.accepted_at, rel.planned_end) == (None, None, None)
    assert rel.new_changes[-1].actor_role is Role.MENTEE


def test_either_party_completes_a_running_relationship():
    for actor, role in ((MENTOR, Role.MENTOR), (MENTEE, Role.MENTEE)):
        rel = proposed()
        rel.accept(MENTOR, day(1))
        rel.complete(actor, day(90), "  Goals met ")
        assert rel.new_changes[-1] == StatusChange(Action.COMPLETE, Status.ACCEPTED, Status.COMPLETED, actor, role,
                                                   day(90), "Goals met")
        assert rel.events[-1] == RelationshipCompleted(**ids(actor, "Goals met"))
        assert rel.updated_at == day(90) and not rel.is_open


def test_a_refused_move_says_why_and_changes_nothing():
    rel = proposed()
    before = rel.snapshot()
    stranger = refusal(rel.accept, STRANGER, day(1))
    assert str(stranger) == "You are not a party to this relationship."
    assert (stranger.action, stranger.status) == (Action.ACCEPT, Status.PENDING)
    assert stranger.facts == {"action": "accept", "current_status": "pending"}
    assert stranger.code == "transition-not-allowed"
    wrong_party = refusal(rel.accept, MENTEE, day(1))
    assert str(wrong_party) == "The relationship is pending; as the mentee you cannot accept it now."
    assert str(refusal(rel.complete, MENTOR, day(1))) == (
        "The relationship is pending; as the mentor you cannot complete it now.")
    assert str(refusal(rel.reopen, MENTEE, day(1))) == (
        "The relationship is pending; as the mentee you cannot reopen it now.")
    assert rel == before


def test_a_snapshot_is_not_changed_by_later_moves():
    rel = proposed()
    before = rel.snapshot()
    rel.accept(MENTOR, day(1))
    assert (before.status, len(before.new_changes), len(before.events)) == (Status.PENDING, 1, 1)
    assert (len(rel.new_changes), len(rel.events)) == (2, 2)
    rel.new_versions.append(rel.proposal)
    rel.new_reminders.append(ReminderOutcome(1, 3, True, day(3)))
    rel.new_alternatives.append(AlternativeMentor(member_id="A1", name="Ada"))
    assert (len(before.new_versions), len(before.new_reminders), len(before.new_alternatives)) == (1, 0, 0)


# --- editing ------------------------------------------------------------------------------

def test_an_edit_records_a_new_version_with_the_changed_fields():
    rel = proposed()
    edited = content(message="Updated", duration_months=9)
    assert rel.edit(MENTEE, edited, day(1)) == ["message", "duration_months"]
    assert rel.proposal == ProposalVersion(2, edited, MENTEE, day(1))
    assert rel.new_versions[-1] is rel.proposal and len(rel.new_versions) == 2
    assert rel.updated_at == day(1)
    assert rel.events[-1] == ProposalEdited(**ids(MENTEE), changed_fields=["message", "duration_months"],
                                            proposal_version=2)
    assert rel.edit(MENTEE, content(message="Again", duration_months=9), day(2)) == ["message"]
    assert rel.proposal.number == 3


def test_an_edit_that_changes_nothing_records_nothing():
    rel = proposed()
    assert rel.edit(MENTEE, content(), day(1)) == []
    assert (rel.proposal.number, len(rel.new_versions), len(rel.events), rel.updated_at) == (1, 1, 1, T0)


@pytest.mark.parametrize("bad, errors", [
    (dict(duration_months=0), {"duration_months": "must be between 1 and 12"}),
    (dict(message="x" * 6000), {"message": "must be at most 5000 characters"}),
])
def test_an_edit_is_held_to_the_same_limits(bad, errors):
    rel = proposed()
    with pytest.raises(InvalidProposal) as invalid:
        rel.edit(MENTEE, content(**bad), day(1))
    assert invalid.value.errors == errors
    assert rel.proposal.number == 1 and len(rel.events) == 1


def test_only_the_mentee_edits_and_only_while_pending():
    rel = proposed()
    assert str(refusal(rel.edit, MENTOR, content(message="Mine"), day(1))) == (
        "The relationship is pending; as the mentor you cannot edit it now.")
    rel.accept(MENTOR, day(1))
    refusal(rel.edit, MENTEE, content(message="Late"), day(2))


# --- timers --------------------------------------------------------------------------------

def test_the_next_timer_is_the_next_unsent_reminder_then_the_expiry():
    rel = proposed()
    assert rel.next_timer_at() == day(3)
    rel.send_reminder(3, day(3))
    assert rel.next_timer_at() == day(7)
    rel.send_reminder(7, day(7))
    assert rel.next_timer_at() == day(15)
    rel.send_reminder(15, day(15))
    assert rel.next_timer_at() == day(21)
    rel.accept(MENTOR, day(16))
    # Accepted: no reminder or expiry is due any more; the next timer is the planned end's notice.
    assert rel.next_timer_at() == rel.planned_end - timedelta(days=14) and rel.timer_due(day(30)) is None


@pytest.mark.parametrize("at, due", [
    (day(3) - SECOND, None),
    (day(3), TimerDue(expire=False, day=3)),
    (day(7) - SECOND, TimerDue(expire=False, day=3)),
    (day(7), TimerDue(expire=False, day=7, skipped=(3,))),
    (day(15), TimerDue(expire=False, day=15, skipped=(3, 7))),
    (day(21) - SECOND, TimerDue(expire=False, day=15, skipped=(3, 7))),
    (day(21), TimerDue(expire=True)),
])
def test_a_timer_falls_due_on_the_exact_second(at, due):
    assert proposed().timer_due(at) == due


def test_a_sent_reminder_is_not_due_again():
    rel = proposed()
    rel.send_reminder(3, day(3))
    assert rel.timer_due(day(6)) is None
    assert rel.timer_due(day(7)) == TimerDue(expire=False, day=7)


def test_a_reminder_is_sent_on_its_day_and_recorded_for_this_cycle():
    rel = proposed()
    rel.send_reminder(3, day(3))
    assert rel.new_reminders == [ReminderOutcome(1, 3, True, day(3))]
    assert rel.reminders_done == {3}
    assert rel.events[-1] == ProposalReminderDue(**ids(None), day=3, sent_at=day(3))
    assert rel.status is Status.PENDING and rel.new_changes[-1].action is Action.PROPOSE  # not a status change
    rel.send_reminder(15, day(16), skipped=(7,))
    assert rel.new_reminders[1:] == [ReminderOutcome(1, 7, False, day(16)), ReminderOutcome(1, 15, True, day(16))]
    assert rel.reminders_done == {3, 7, 15}


@pytest.mark.parametrize("reminder_day, at, skipped, message", [
    (15, T0, (), "The day-15 reminder is not due."),
    (3, day(3) - SECOND, (), "The day-3 reminder is not due."),
    (4, day(4), (), "The day-4 reminder is not due."),
    (7, day(7), (7,), "Cannot skip the day-7 reminder."),
    (7, day(7), (15,), "Cannot skip the day-15 reminder."),
])
def test_a_reminder_before_its_day_off_the_calendar_or_skipping_a_later_one_is_refused(reminder_day, at, skipped,
                                                                                        message):
    rel = proposed()
    before = rel.snapshot()
    refused = refusal(rel.send_reminder, reminder_day, at, skipped)
    assert (str(refused), refused.action, refused.status) == (message, Action.REMIND, Status.PENDING)
    assert rel == before


def test_a_reminder_already_sent_or_skipped_is_refused():
    rel = proposed()
    rel.send_reminder(7, day(7), skipped=(3,))
    assert str(refusal(rel.send_reminder, 7, day(8))) == "The day-7 reminder is not due."
    assert str(refusal(rel.send_reminder, 15, day(15), (3,))) == "Cannot skip the day-3 reminder."
    assert str(refusal(rel.send_reminder, 3, day(8))) == "The day-3 reminder is not due."


def test_no_reminder_once_answered():
    rel = proposed()
    rel.reject(MENTOR, day(1))
    refused = refusal(rel.send_reminder, 3, day(3))
    assert str(refused) == "No reminder for a rejected relationship."


def test_an_unanswered_proposal_expires_on_day_21_with_alternatives():
    rel = proposed()
    alternatives = [AlternativeMentor(member_id=f"A{n}", name=f"Mentor {n}") for n in range(4)]
    refused = refusal(rel.expire, day(21) - SECOND, alternatives)
    assert (str(refused), refused.action) == ("The proposal is not due to expire.", Action.EXPIRE)
    rel.expire(day(21), alternatives)
    assert rel.new_changes[-1] == StatusChange(Action.EXPIRE, Status.PENDING, Status.EXPIRED, None, Role.SYSTEM,
                                               day(21), "No answer within 21 days")
    # Three are kept, each with why it is suggested (none mentors the proposal's areas here).
    assert rel.events[-1] == ProposalExpired(**ids(None, "No answer within 21 days"), areas=["career_planning"],
                                             alternatives=[a.model_copy(update={"why": "Available to mentees now"})
                                                           for a in alternatives[:3]])
    assert rel.updated_at == day(21)
    assert rel.actions_for(MENTEE) == [Action.REOPEN] and rel.actions_for(MENTOR) == []
    assert str(refusal(rel.expire, day(30), [])) == "The proposal is not due to expire."


def test_a_reopened_proposal_expires_21_days_after_the_reopening():
    rel = proposed()
    rel.expire(day(21), [])
    rel.reopen(MENTEE, day(25))
    refusal(rel.expire, day(45), [])
    assert rel.timer_due(day(28) - SECOND) is None
    rel.expire(day(46), [])
    assert rel.status is Status.EXPIRED


def test_planned_end_counts_calendar_months_from_acceptance():
    assert planned_end(None, 6) is None
    assert planned_end(datetime(2027, 1, 31, tzinfo=timezone.utc), 1) == datetime(2027, 2, 28, tzinfo=timezone.utc)
    assert planned_end(datetime(2027, 1, 15, tzinfo=timezone.utc), 12) == datetime(2028, 1, 15, tzinfo=timezone.utc)


def test_the_refusals_name_what_is_in_the_way():
    assert str(NoSuchRelationship("R9")) == "No relationship R9 of yours."
    unavailable = MentorUnavailable("M1", "inactive", "The mentor is not active.")
    assert (unavailable.code, unavailable.facts, str(unavailable)) == (
        "mentor-unavailable", {"mentor_id": "M1", "why": "inactive"}, "The mentor is not active.")
    exists = RelationshipExists("M1", "M2", "R1", "pending")
    assert exists.code == "relationship-exists"
    assert exists.facts == {"relationship_id": "R1", "relationship_status": "pending"}
    assert str(exists) == "There is already an open (pending) relationship R1 between mentor M1 and mentee M2."


# --- leaving Connect ------------------------------------------------------------------------

@pytest.mark.parametrize("member, role", [(MENTEE, Role.MENTEE), (MENTOR, Role.MENTOR)])
def test_a_member_who_leaves_connect_withdraws_from_a_pending_proposal_on_either_side(member, role):
    rel = proposed()
    rel.leave_connect(member, day(1), "Account deleted")
    assert rel.new_changes[-1] == StatusChange(Action.WITHDRAW, Status.PENDING, Status.WITHDRAWN, member, role,
                                               day(1), "Account deleted")
    assert (rel.status, rel.withdrawn_by, rel.updated_at) == (Status.WITHDRAWN, member, day(1))
    # The mentor leaving is not the mentor declining: the partner is told the member left Connect.
    assert rel.events[-1] == ProposalWithdrawn(**ids(member, "Account deleted"), account_deleted=True)


def test_a_member_who_leaves_connect_withdraws_from_a_running_relationship():
    rel = proposed()
    rel.accept(MENTOR, day(1))
    rel.leave_connect(MENTOR, day(40), "Account deleted")
    assert rel.new_changes[-1] == StatusChange(Action.WITHDRAW, Status.ACCEPTED, Status.WITHDRAWN, MENTOR,
                                               Role.MENTOR, day(40), "Account deleted")
    assert rel.events[-1] == RelationshipWithdrawn(**ids(MENTOR, "Account deleted"), account_deleted=True)
    assert rel.withdrawn_by == MENTOR and not rel.is_open


def test_leaving_connect_touches_only_an_open_relationship_of_the_member():
    rel = proposed()
    before = rel.snapshot()
    stranger = refusal(rel.leave_connect, STRANGER, day(1), "Account deleted")
    assert (str(stranger), stranger.action, stranger.status) == (
        "Only an open relationship of the member's is left.", Action.WITHDRAW, Status.PENDING)
    assert rel == before
    rel.reject(MENTOR, day(2))
    closed = rel.snapshot()
    refused = refusal(rel.leave_connect, MENTEE, day(3), "Account deleted")
    assert (refused.action, refused.status) == (Action.WITHDRAW, Status.REJECTED)
    assert rel == closed


# --- the planned end -----------------------------------------------------------------------

def accepted(at: datetime = T0) -> Relationship:
    rel = proposed(at)
    rel.accept(MENTOR, at)
    return rel


END = datetime(2027, 6, 1, 9, 0, tzinfo=timezone.utc)  # six months after T0
NOTICE = END - timedelta(days=14)


def test_both_parties_are_told_14_days_before_the_planned_end_and_only_once():
    rel = accepted()
    assert rel.planned_end == END
    assert rel.next_timer_at() == NOTICE
    assert rel.timer_due(NOTICE - SECOND) is None
    assert rel.timer_due(NOTICE) == TimerDue(end_notice=True)
    before = rel.snapshot()
    early = refusal(rel.send_end_notice, NOTICE - SECOND)
    assert (str(early), early.action, early.status) == ("No planned-end notice is due.", Action.REMIND,
                                                         Status.ACCEPTED)
    assert rel == before
    rel.send_end_notice(NOTICE)
    assert (rel.end_notice_at, rel.updated_at, rel.status) == (NOTICE, NOTICE, Status.ACCEPTED)
    assert rel.events[-1] == RelationshipEndingSoon(**ids(None), planned_end=END)
    assert rel.new_changes[-1].action is Action.ACCEPT  # a notice is not a status change
    # Told once: the next timer is the end itself.
    assert rel.next_timer_at() == END
    assert rel.timer_due(END - SECOND) is None
    assert str(refusal(rel.send_end_notice, NOTICE + SECOND)) == "No planned-end notice is due."


def test_no_planned_end_notice_for_a_relationship_that_is_not_running():
    rel = proposed()
    refused = refusal(rel.send_end_notice, day(400))
    assert (refused.action, refused.status) == (Action.REMIND, Status.PENDING)
    done = accepted()
    done.complete(MENTEE, day(30))
    assert done.timer_due(NOTICE) is None and done.next_timer_at() is None
    assert refusal(done.send_end_notice, NOTICE).status is Status.COMPLETED


def test_the_system_completes_a_relationship_at_its_planned_end():
    rel = accepted()
    rel.send_end_notice(NOTICE)
    before = rel.snapshot()
    early = refusal(rel.complete_at_planned_end, END - SECOND)
    assert (str(early), early.action, early.status) == (
        "The relationship has not reached its planned end.", Action.COMPLETE, Status.ACCEPTED)
    assert rel == before
    assert rel.timer_due(END) == TimerDue(complete=True)
    rel.complete_at_planned_end(END)
    assert rel.new_changes[-1] == StatusChange(Action.COMPLETE, Status.ACCEPTED, Status.COMPLETED, None, Role.SYSTEM,
                                               END, "The planned end of the relationship was reached")
    assert rel.events[-1] == RelationshipCompleted(**ids(None, PLANNED_END_REASON), planned_end_reached=True)
    assert (rel.status, rel.updated_at) == (Status.COMPLETED, END)
    assert refusal(rel.complete_at_planned_end, END + SECOND).status is Status.COMPLETED
    assert refusal(proposed().complete_at_planned_end, END).status is Status.PENDING


def test_a_sweep_that_runs_late_completes_without_a_stale_notice():
    rel = accepted()
    assert rel.timer_due(END) == TimerDue(complete=True)
    assert rel.timer_due(END + timedelta(days=3)) == TimerDue(complete=True)
    rel.complete_at_planned_end(END + timedelta(days=3))
    assert [type(e) for e in rel.events[-2:]] == [ProposalAccepted, RelationshipCompleted]


def test_a_new_acceptance_after_a_reopening_gets_its_own_notice():
    rel = accepted()
    rel.send_end_notice(NOTICE)
    rel.withdraw(MENTEE, NOTICE + SECOND)
    rel.reopen(MENTEE, NOTICE + 2 * SECOND)
    rel.accept(MENTOR, END)
    assert rel.end_notice_at is None
    new_end = datetime(2027, 12, 1, 9, 0, tzinfo=timezone.utc)
    assert rel.next_timer_at() == new_end - timedelta(days=14)
    assert rel.timer_due(new_end - timedelta(days=14)) == TimerDue(end_notice=True)


# --- what a list and an expiry show ---------------------------------------------------------

def test_a_list_shows_the_first_non_blank_line_cut_at_a_word_with_an_ellipsis():
    assert first_line("\n   \n  Hello there  \nsecond line") == "Hello there"
    assert first_line("") == ""
    assert first_line("x" * 140) == "x" * 140  # the default limit, kept whole
    assert first_line("word " * 27 + "abcdefghijk") == ("word " * 27).rstrip() + "\u2026"  # 146 characters
    assert first_line("abcd efgh", limit=9) == "abcd efgh"
    assert first_line("abcd efghi", limit=9) == "abcd\u2026"
    assert first_line("abcdefghij", limit=9) == "abcdefgh\u2026"  # no space: cut at the limit
    assert first_line("abc   defghij", limit=9) == "abc\u2026"


def test_an_alternative_says_which_of_the_proposal_areas_they_mentor_in():
    both = AlternativeMentor(member_id="A1", name="Ada", matched_areas=["leadership", "career_planning"])
    assert why_suggested(both, ("career_planning", "leadership")) == \
        "Mentors in Career planning, Leadership and management, as your proposal asked"
    assert why_suggested(both, ("leadership",)) == "Mentors in Leadership and management, as your proposal asked"
    # None of the proposal's areas: what they do mentor in.
    assert why_suggested(both, ("claims",)) == \
        "Mentors in Leadership and management, Career planning, as your proposal asked"
    assert why_suggested(AlternativeMentor(member_id="A2", name="Bo"), ("claims",)) == "Available to mentees now"


def test_an_expiry_keeps_the_first_three_alternatives_with_why_each_is_suggested():
    rel = proposed()
    alternatives = [AlternativeMentor(member_id=f"A{n}", name=f"Mentor {n}", matched_areas=["career_planning"])
                    for n in range(4)]
    rel.expire(day(21), alternatives)
    why = "Mentors in Career planning, as your proposal asked"
    assert [(a.member_id, a.why) for a in rel.new_alternatives] == [("A0", why), ("A1", why), ("A2", why)]
    assert rel.events[-1].alternatives == rel.new_alternatives
