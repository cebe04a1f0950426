"""Property tests of the relationship state machine: random moves by random actors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from connect.errors import DomainError
from schemas.events import (ProposalAccepted, ProposalExpired, ProposalRejected, ProposalReminderDue,
                            ProposalReopened, ProposalWithdrawn, RelationshipCompleted, RelationshipWithdrawn)
from services.relationships.proposals.domain import (OPEN_STATUSES, REMINDER_DAYS, Action, InvalidProposal,
                                                     MoveRefused, ProposalContent, Relationship, Role, Status,
                                                     available_actions)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
MENTOR, MENTEE, STRANGER = "M-mentor", "M-mentee", "M-stranger"
CONTENT = ProposalContent("Please mentor me", ("career_planning",), "Grow", ("video",), 6)

# (from status, action, actor role) -> to status: docs/api.md's table, written out independently.
LEGAL = {
    (Status.PENDING, Action.ACCEPT, Role.MENTOR): Status.ACCEPTED,
    (Status.PENDING, Action.REJECT, Role.MENTOR): Status.REJECTED,
    (Status.PENDING, Action.WITHDRAW, Role.MENTEE): Status.WITHDRAWN,
    (Status.PENDING, Action.EDIT, Role.MENTEE): Status.PENDING,
    (Status.ACCEPTED, Action.WITHDRAW, Role.MENTOR): Status.WITHDRAWN,
    (Status.ACCEPTED, Action.WITHDRAW, Role.MENTEE): Status.WITHDRAWN,
    (Status.ACCEPTED, Action.COMPLETE, Role.MENTOR): Status.COMPLETED,
    (Status.ACCEPTED, Action.COMPLETE, Role.MENTEE): Status.COMPLETED,
    (Status.REJECTED, Action.REOPEN, Role.MENTOR): Status.PENDING,
    (Status.EXPIRED, Action.REOPEN, Role.MENTEE): Status.PENDING,
    # withdrawn -> pending only by whoever withdrew: checked separately below.
}
EVENT_OF = {
    Action.ACCEPT: ProposalAccepted, Action.REJECT: ProposalRejected, Action.COMPLETE: RelationshipCompleted,
    Action.REOPEN: ProposalReopened,
}

moves = st.lists(st.tuples(
    st.sampled_from([Action.ACCEPT, Action.REJECT, Action.WITHDRAW, Action.REOPEN, Action.EDIT, Action.COMPLETE,
                     Action.REMIND, Action.EXPIRE]),
    st.sampled_from([MENTOR, MENTEE, STRANGER]),
    st.integers(min_value=0, max_value=30 * 24),  # hours to move the clock first
    st.sampled_from([*REMINDER_DAYS, 1, 21]),
), max_size=25)


def _role(member: str) -> Role | None:
    return {MENTOR: Role.MENTOR, MENTEE: Role.MENTEE}.get(member)


def _apply(rel: Relationship, action: Action, actor: str, now: datetime, day: int, edit_no: int) -> None:
    if action is Action.EDIT:
        rel.edit(actor, ProposalContent(f"edit {edit_no}", CONTENT.areas, CONTENT.goals, CONTENT.interaction_modes,
                                        CONTENT.duration_months), now)
    elif action is Action.REMIND:
        rel.send_reminder(day, now)
    elif action is Action.EXPIRE:
        rel.expire(now, [])
    else:
        getattr(rel, action.value)(actor, now, "because")


def _state(rel: Relationship) -> tuple:
    return (rel.status, rel.withdrawn_by, rel.cycle, rel.cycle_started_at, rel.reminders_done, rel.proposal,
            rel.updated_at, rel.accepted_at, len(rel.new_changes), len(rel.new_versions), len(rel.new_reminders),
            len(rel.events))


@settings(max_examples=300, deadline=None)
@given(moves)
def test_random_moves_follow_the_contract_and_refusals_change_nothing(sequence):
    rel = Relationship.propose("R1", MENTOR, MENTEE, CONTENT, T0)
    now = T0
    for n, (action, actor, hours, day) in enumerate(sequence):
        now = now + timedelta(hours=hours)
        before = _state(rel)
        from_status, withdrawn_by = rel.status, rel.withdrawn_by
        events_before = len(rel.events)
        try:
            _apply(rel, action, actor, now, day, n)
        except (MoveRefused, InvalidProposal):
            assert _state(rel) == before, "a refused move changed the relationship"
            # A refused member move is exactly one the contract does not allow.
            role = _role(actor)
            if action in (Action.REMIND, Action.EXPIRE) or role is None:
                continue
            legal = (from_status, action, role) in LEGAL or (
                from_status is Status.WITHDRAWN and action is Action.REOPEN and withdrawn_by == actor)
            assert not legal, f"{actor} was refused a legal {action} from {from_status}"
            continue
        # The move happened: it was legal, by the right party, and told the world once.
        role = _role(actor)
        new_events = rel.events[events_before:]
        if action is Action.REMIND:
            assert from_status is Status.PENDING and rel.status is Status.PENDING
            assert [type(e) for e in new_events] == [ProposalReminderDue] and new_events[0].day == day
            continue
        if action is Action.EXPIRE:
            assert from_status is Status.PENDING and rel.status is Status.EXPIRED
            assert now - rel.cycle_started_at >= timedelta(days=21)
            assert [type(e) for e in new_events] == [ProposalExpired]
            continue
        assert role is not None, "a stranger moved a relationship"
        if from_status is Status.WITHDRAWN and action is Action.REOPEN:
            assert withdrawn_by == actor
            expected = Status.PENDING
        else:
            expected = LEGAL.get((from_status, action, role))
        assert expected is not None, f"{actor} made an illegal {action} from {from_status}"
        assert rel.status is expected
        assert len(new_events) == 1
        if action is Action.WITHDRAW:
            assert type(new_events[0]) is (ProposalWithdrawn if from_status is Status.PENDING
                                           else RelationshipWithdrawn)
        elif action in EVENT_OF:
            assert type(new_events[0]) is EVENT_OF[action]
        change = rel.new_changes[-1]
        if action is not Action.EDIT:
            assert (change.actor_id, change.from_status, change.to_status, change.at) == (actor, from_status,
                                                                                       expected, now)
        # Invariants of every reachable state.
        assert rel.status in Status
        assert (rel.withdrawn_by is not None) == (rel.status is Status.WITHDRAWN)
        if rel.status in (Status.ACCEPTED, Status.COMPLETED):
            assert rel.accepted_at is not None and rel.planned_end is not None
        if rel.status in (Status.PENDING, Status.REJECTED, Status.EXPIRED):
            assert rel.accepted_at is None
        if rel.status is Status.ACCEPTED:  # the planned-end notice is its next timer (the sweep never runs here)
            assert rel.next_timer_at() == rel.planned_end - timedelta(days=14)
        elif rel.status is not Status.PENDING:
            assert rel.next_timer_at() is None
        # The actions the domain offers are exactly what it then allows.
        assert rel.actions_for(STRANGER) == []
    # Reminders are never sent twice in one cycle.
    sent = [(r.cycle, r.day) for r in rel.new_reminders]
    assert len(sent) == len(set(sent))


def test_offered_actions_match_the_contract_table():
    for status in Status:
        for role in (Role.MENTOR, Role.MENTEE):
            for i_withdrew in (False, True):
                if i_withdrew and status is not Status.WITHDRAWN:
                    continue
                offered = set(available_actions(status, role, i_withdrew=i_withdrew))
                expected = {a for (s, a, r) in LEGAL if s is status and r is role}
                if status is Status.WITHDRAWN and i_withdrew:
                    expected.add(Action.REOPEN)
                assert offered == expected, (status, role, i_withdrew)
    assert OPEN_STATUSES == {Status.PENDING, Status.ACCEPTED}


def test_late_sweep_sends_only_the_latest_reminder_then_expires():
    rel = Relationship.propose("R1", MENTOR, MENTEE, CONTENT, T0)
    assert rel.timer_due(T0 + timedelta(days=2, hours=23)) is None
    due = rel.timer_due(T0 + timedelta(days=16))
    assert (due.expire, due.day, due.skipped) == (False, 15, (3, 7))
    rel.send_reminder(due.day, T0 + timedelta(days=16), due.skipped)
    assert [(r.day, r.sent) for r in rel.new_reminders] == [(3, False), (7, False), (15, True)]
    assert rel.timer_due(T0 + timedelta(days=20)) is None
    assert rel.next_timer_at() == T0 + timedelta(days=21)
    assert rel.timer_due(T0 + timedelta(days=21)).expire
    # A sweep that wakes after the expiry only expires: no stale reminder beside it.
    fresh = Relationship.propose("R2", MENTOR, MENTEE, CONTENT, T0)
    assert fresh.timer_due(T0 + timedelta(days=40)) == type(due)(expire=True)


def test_reopen_starts_a_new_timer_cycle_and_withdrawal_reopens_only_for_the_withdrawer():
    rel = Relationship.propose("R1", MENTOR, MENTEE, CONTENT, T0)
    rel.send_reminder(3, T0 + timedelta(days=3))
    rel.accept(MENTOR, T0 + timedelta(days=4))
    assert rel.planned_end == datetime(2027, 6, 5, 9, 0, tzinfo=timezone.utc)
    rel.withdraw(MENTOR, T0 + timedelta(days=5), "moving abroad")
    assert isinstance(rel.events[-1], RelationshipWithdrawn)
    try:
        rel.reopen(MENTEE, T0 + timedelta(days=6))
        raise AssertionError("the mentee reopened the mentor's withdrawal")
    except MoveRefused as refused:
        assert refused.status is Status.WITHDRAWN
    rel.reopen(MENTOR, T0 + timedelta(days=6))
    assert (rel.status, rel.cycle, rel.reminders_done) == (Status.PENDING, 2, frozenset())
    assert rel.next_timer_at() == T0 + timedelta(days=9)


def test_bad_proposals_are_refused():
    for content, field in [
        (ProposalContent("hi", (), "", (), 0), "duration_months"),
        (ProposalContent("hi", (), "", (), 13), "duration_months"),
        (ProposalContent("x" * 5001, (), "", (), 3), "message"),
    ]:
        try:
            Relationship.propose("R", MENTOR, MENTEE, content, T0)
            raise AssertionError(f"accepted a bad {field}")
        except InvalidProposal as exc:
            assert field in exc.errors
    try:
        Relationship.propose("R", MENTOR, MENTOR, CONTENT, T0)
        raise AssertionError("accepted a proposal to oneself")
    except DomainError as exc:
        assert "yourself" in str(exc)


def test_the_planned_end_timers_of_an_accepted_relationship():
    from schemas.events import RelationshipEndingSoon

    rel = Relationship.propose("R1", MENTOR, MENTEE, CONTENT, T0)  # six months
    rel.accept(MENTOR, T0)
    end = datetime(2027, 6, 1, 9, 0, tzinfo=timezone.utc)
    assert rel.planned_end == end and rel.next_timer_at() == end - timedelta(days=14)
    assert rel.timer_due(end - timedelta(days=14, seconds=1)) is None
    before = _state(rel)
    for refused in (lambda: rel.send_end_notice(end - timedelta(days=15)),
                    lambda: rel.complete_at_planned_end(end - timedelta(seconds=1))):
        try:
            refused()
            raise AssertionError("a timer move before its time")
        except MoveRefused:
            assert _state(rel) == before
    assert rel.timer_due(end - timedelta(days=14)).end_notice
    rel.send_end_notice(end - timedelta(days=14))
    assert isinstance(rel.events[-1], RelationshipEndingSoon) and rel.events[-1].planned_end == end
    assert rel.next_timer_at() == end and rel.timer_due(end - timedelta(days=1)) is None
    try:
        rel.send_end_notice(end - timedelta(days=1))
        raise AssertionError("a second notice")
    except MoveRefused:
        pass
    assert rel.timer_due(end).complete
    rel.complete_at_planned_end(end)
    assert rel.status is Status.COMPLETED and rel.next_timer_at() is None
    change = rel.new_changes[-1]
    assert (change.actor_id, change.actor_role, change.from_status) == (None, Role.SYSTEM, Status.ACCEPTED)
    assert rel.events[-1].planned_end_reached and rel.events[-1].actor_id is None


def test_a_member_leaving_connect_withdraws_whichever_side_they_are_on():
    pending = Relationship.propose("R1", MENTOR, MENTEE, CONTENT, T0)
    pending.leave_connect(MENTOR, T0, "Account deleted")  # a mentor cannot withdraw a proposal otherwise
    assert (pending.status, pending.withdrawn_by) == (Status.WITHDRAWN, MENTOR)
    assert isinstance(pending.events[-1], ProposalWithdrawn) and pending.events[-1].account_deleted
    accepted = Relationship.propose("R2", MENTOR, MENTEE, CONTENT, T0)
    accepted.accept(MENTOR, T0)
    accepted.leave_connect(MENTEE, T0, "Account deleted")
    assert isinstance(accepted.events[-1], RelationshipWithdrawn) and accepted.events[-1].account_deleted
    try:
        accepted.leave_connect(MENTEE, T0, "Account deleted")
        raise AssertionError("left a closed relationship")
    except MoveRefused:
        pass
