"""The relationship aggregate: a proposal from a mentee to a mentor and its lifecycle.

Plain Python on purpose: the rules below are the whole state machine of
docs/api.md ("Relationships"), testable without a database.
Every accepted move appends a `StatusChange` (who, when, why) and records a
schemas event; a refused move raises `MoveRefused` before touching anything.
The errors below are `connect.errors` families: `connect.problems` gives them
their HTTP form.

Past history and old proposal versions are append-only logs that no rule ever
reads back, so the aggregate carries only what decisions need (status, who
withdrew, the timer cycle, the current proposal) plus the entries added since
it was loaded (`new_changes`, `new_versions`, `new_reminders`); the repository
appends those and the details view reads the logs directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from dateutil.relativedelta import relativedelta

from connect.errors import Conflict, Invalid, NotFound
from schemas import taxonomy
from schemas.events import (AlternativeMentor, EventData, ProposalAccepted, ProposalEdited, ProposalExpired,
                            ProposalRejected, ProposalReminderDue, ProposalReopened, ProposalSent,
                            ProposalWithdrawn, RelationshipCompleted, RelationshipEndingSoon, RelationshipWithdrawn)


class Status(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    COMPLETED = "completed"


#: At most one relationship per mentor–mentee pair may be in one of these.
OPEN_STATUSES = frozenset({Status.PENDING, Status.ACCEPTED})


class Role(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"
    SYSTEM = "system"


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    REOPEN = "reopen"
    EDIT = "edit"
    COMPLETE = "complete"
    # Moves only the sweep makes; never offered to a member.
    REMIND = "remind"
    EXPIRE = "expire"
    PROPOSE = "propose"


MEMBER_ACTIONS = (Action.ACCEPT, Action.REJECT, Action.WITHDRAW, Action.REOPEN, Action.EDIT, Action.COMPLETE)

#: Days after the proposal was sent (or last reopened) when the mentor is reminded.
REMINDER_DAYS = (3, 7, 15)
#: Days after which an unanswered proposal expires.
EXPIRY_DAYS = 21
#: Both parties are told this many days before an accepted relationship's planned end.
END_NOTICE_DAYS = 14
#: The reason the sweep gives when it completes a relationship at its planned end.
PLANNED_END_REASON = "The planned end of the relationship was reached"

MIN_DURATION_MONTHS = 1
MAX_DURATION_MONTHS = 12
MAX_MESSAGE_CHARS = 5000
MAX_GOALS_CHARS = 5000
MAX_REASON_CHARS = 2000
MAX_AREAS = 20
#: The longest proposal summary a list shows (the first line of the message, cut at a word).
SUMMARY_CHARS = 140

PROPOSAL_FIELDS = ("message", "areas", "goals", "interaction_modes", "duration_months")


class MoveRefused(Conflict):
    """The move is not allowed for this actor in the current status."""

    code = "transition-not-allowed"

    def __init__(self, action: Action, status: Status, detail: str) -> None:
        super().__init__(detail, action=action.value, current_status=status.value)
        self.action = action
        self.status = status


class InvalidProposal(Invalid):
    """The proposal's content breaks a rule; `errors` maps field to message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)


class NoSuchRelationship(NotFound):
    """Strangers learn nothing, not even that the relationship exists."""

    def __init__(self, relationship_id: str) -> None:
        super().__init__(f"No relationship {relationship_id} of yours.")


class MentorUnavailable(Conflict):
    """The mentor cannot receive a proposal now: `why` is not_a_mentor, inactive or unavailable."""

    code = "mentor-unavailable"

    def __init__(self, mentor_id: str, why: str, detail: str) -> None:
        super().__init__(detail, mentor_id=mentor_id, why=why)


class RelationshipExists(Conflict):
    """At most one open relationship per mentor–mentee pair."""

    code = "relationship-exists"

    def __init__(self, mentor_id: str, mentee_id: str, relationship_id: str | None, status: str | None) -> None:
        super().__init__(f"There is already an open ({status}) relationship {relationship_id} between "
                         f"mentor {mentor_id} and mentee {mentee_id}.",
                         relationship_id=relationship_id, relationship_status=status)


@dataclass(frozen=True)
class ProposalContent:
    message: str
    areas: tuple[str, ...]
    goals: str
    interaction_modes: tuple[str, ...]
    duration_months: int

    def validate(self) -> None:
        errors: dict[str, str] = {}
        if not MIN_DURATION_MONTHS <= self.duration_months <= MAX_DURATION_MONTHS:
            errors["duration_months"] = f"must be between {MIN_DURATION_MONTHS} and {MAX_DURATION_MONTHS}"
        if len(self.message) > MAX_MESSAGE_CHARS:
            errors["message"] = f"must be at most {MAX_MESSAGE_CHARS} characters"
        if not self.message.strip():
            errors["message"] = "must not be empty"
        if len(self.goals) > MAX_GOALS_CHARS:
            errors["goals"] = f"must be at most {MAX_GOALS_CHARS} characters"
        if len(self.areas) > MAX_AREAS:
            errors["areas"] = f"must list at most {MAX_AREAS} areas"
        if errors:
            raise InvalidProposal(errors)

    def changed_fields(self, other: "ProposalContent") -> list[str]:
        return [name for name in PROPOSAL_FIELDS if getattr(self, name) != getattr(other, name)]


@dataclass(frozen=True)
class ProposalVersion:
    number: int
    content: ProposalContent
    author_id: str
    at: datetime


@dataclass(frozen=True)
class StatusChange:
    action: Action
    from_status: Status | None
    to_status: Status
    actor_id: str | None  # None for the system (timers)
    actor_role: Role
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class ReminderOutcome:
    """One reminder slot of one timer cycle: sent to the mentor, or skipped by a late sweep."""

    cycle: int
    day: int
    sent: bool
    at: datetime


@dataclass(frozen=True)
class TimerDue:
    """What the sweep must do now: send reminder `day` (skipping `skipped`), or expire a
    proposal; tell both parties the planned end is near (`end_notice`), or complete an
    accepted relationship at its planned end (`complete`)."""

    expire: bool = False
    day: int | None = None
    skipped: tuple[int, ...] = ()
    end_notice: bool = False
    complete: bool = False


def available_actions(status: Status, role: Role, *, i_withdrew: bool) -> list[Action]:
    """What a party of the relationship may do in `status` (the `actions` of the API)."""
    if status is Status.PENDING:
        return [Action.ACCEPT, Action.REJECT] if role is Role.MENTOR else [Action.WITHDRAW, Action.EDIT]
    if status is Status.ACCEPTED:
        return [Action.WITHDRAW, Action.COMPLETE]
    if status is Status.REJECTED:
        return [Action.REOPEN] if role is Role.MENTOR else []
    if status is Status.WITHDRAWN:
        return [Action.REOPEN] if i_withdrew else []
    if status is Status.EXPIRED:
        return [Action.REOPEN] if role is Role.MENTEE else []
    return []


def planned_end(accepted_at: datetime | None, duration_months: int) -> datetime | None:
    """An accepted relationship is planned to run `duration_months` from acceptance
    (informative only: completing earlier or later is allowed)."""
    return accepted_at + relativedelta(months=duration_months) if accepted_at else None


def why_suggested(alternative: AlternativeMentor, areas: tuple[str, ...]) -> str:
    """Why a mentor is offered instead of the one who never answered: the areas of the
    proposal they mentor in (labels), or that they are available when none was named."""
    shared = [a for a in areas if a in alternative.matched_areas] or list(alternative.matched_areas)
    if shared:
        return "Mentors in " + ", ".join(taxonomy.label("expertise", a) for a in shared) + \
            ", as your proposal asked"
    return "Available to mentees now"


def _clean_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    reason = reason.strip()
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidProposal({"reason": f"must be at most {MAX_REASON_CHARS} characters"})
    return reason or None


@dataclass
class Relationship:
    id: str
    mentor_id: str
    mentee_id: str
    status: Status
    proposal: ProposalVersion
    created_at: datetime
    updated_at: datetime
    #: Timer cycle: 1 from the first send, +1 at each reopen; reminders are unique per cycle.
    cycle: int
    cycle_started_at: datetime
    #: Reminder days already dealt with (sent or skipped) in the current cycle.
    reminders_done: frozenset[int] = frozenset()
    withdrawn_by: str | None = None
    accepted_at: datetime | None = None
    #: When both parties were told the planned end is near (None: not yet, in this acceptance).
    end_notice_at: datetime | None = None
    new_changes: list[StatusChange] = field(default_factory=list)
    new_versions: list[ProposalVersion] = field(default_factory=list)
    new_reminders: list[ReminderOutcome] = field(default_factory=list)
    #: The mentors suggested by an expiry in this transaction (at most three, in order).
    new_alternatives: list[AlternativeMentor] = field(default_factory=list)
    events: list[EventData] = field(default_factory=list)

    # --- creation -------------------------------------------------------------------
    @classmethod
    def propose(cls, relationship_id: str, mentor_id: str, mentee_id: str, content: ProposalContent,
                now: datetime) -> "Relationship":
        if mentor_id == mentee_id:
            raise InvalidProposal({"mentor_id": "you cannot send a proposal to yourself"})
        content.validate()
        version = ProposalVersion(1, content, mentee_id, now)
        rel = cls(id=relationship_id, mentor_id=mentor_id, mentee_id=mentee_id, status=Status.PENDING,
                  proposal=version, created_at=now, updated_at=now, cycle=1, cycle_started_at=now)
        rel.new_versions.append(version)
        rel.new_changes.append(StatusChange(Action.PROPOSE, None, Status.PENDING, mentee_id, Role.MENTEE, now))
        rel.events.append(ProposalSent(
            **rel._ids(mentee_id, None), message=content.message, areas=list(content.areas),
            goals=content.goals, interaction_modes=list(content.interaction_modes),
            duration_months=content.duration_months))
        return rel

    # --- queries --------------------------------------------------------------------
    def role_of(self, member_id: str) -> Role | None:
        if member_id == self.mentor_id:
            return Role.MENTOR
        if member_id == self.mentee_id:
            return Role.MENTEE
        return None

    def actions_for(self, member_id: str) -> list[Action]:
        role = self.role_of(member_id)
        if role is None:
            return []
        return available_actions(self.status, role, i_withdrew=self.withdrawn_by == member_id)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def planned_end(self) -> datetime | None:
        return planned_end(self.accepted_at, self.proposal.content.duration_months)

    def next_timer_at(self) -> datetime | None:
        """When the sweep next has something to do for this relationship (indexed column)."""
        if self.status is Status.ACCEPTED:
            end = self.planned_end
            if end is None:
                return None
            return end - timedelta(days=END_NOTICE_DAYS) if self.end_notice_at is None else end
        if self.status is not Status.PENDING:
            return None
        for day in REMINDER_DAYS:
            if day not in self.reminders_done:
                return self.cycle_started_at + timedelta(days=day)
        return self.cycle_started_at + timedelta(days=EXPIRY_DAYS)

    def timer_due(self, now: datetime) -> TimerDue | None:
        """The one timer action due at `now`, catching up sanely after a late sweep.

        Expiry, once due, wins over any reminder (a mentor is not reminded of a
        proposal that is being withdrawn); otherwise only the latest due reminder
        is sent and earlier unsent ones are skipped, so a sweep that ran days late
        never sends a burst of stale reminders.  Likewise an accepted relationship
        past its planned end completes without a late "ending soon" notice.
        """
        if self.status is Status.ACCEPTED:
            end = self.planned_end
            if end is None:
                return None
            if now >= end:
                return TimerDue(complete=True)
            if self.end_notice_at is None and now >= end - timedelta(days=END_NOTICE_DAYS):
                return TimerDue(end_notice=True)
            return None
        if self.status is not Status.PENDING:
            return None
        age = now - self.cycle_started_at
        if age >= timedelta(days=EXPIRY_DAYS):
            return TimerDue(expire=True)
        due = [d for d in REMINDER_DAYS if d not in self.reminders_done and age >= timedelta(days=d)]
        if not due:
            return None
        return TimerDue(expire=False, day=due[-1], skipped=tuple(due[:-1]))

    # --- member moves ---------------------------------------------------------------
    def _ids(self, actor_id: str | None, reason: str | None) -> dict[str, str | None]:
        return {"relationship_id": self.id, "mentor_id": self.mentor_id, "mentee_id": self.mentee_id,
                "actor_id": actor_id, "reason": reason}

    def _require(self, actor_id: str, action: Action) -> Role:
        role = self.role_of(actor_id)
        if role is None:
            raise MoveRefused(action, self.status, "You are not a party to this relationship.")
        if action not in available_actions(self.status, role, i_withdrew=self.withdrawn_by == actor_id):
            raise MoveRefused(action, self.status, self._refusal(action, role))
        return role

    def _refusal(self, action: Action, role: Role) -> str:
        if self.status is Status.WITHDRAWN and action is Action.REOPEN:
            return "Only the party who withdrew can reopen this relationship."
        return f"The relationship is {self.status}; as the {role} you cannot {action} it now."

    def _move(self, action: Action, to: Status, actor_id: str | None, role: Role, now: datetime,
              reason: str | None) -> None:
        self.new_changes.append(StatusChange(action, self.status, to, actor_id, role, now, reason))
        self.status = to
        self.updated_at = now

    def accept(self, actor_id: str, now: datetime, reason: str | None = None) -> None:
        reason = _clean_reason(reason)
        self._require(actor_id, Action.ACCEPT)
        self._move(Action.ACCEPT, Status.ACCEPTED, actor_id, Role.MENTOR, now, reason)
        self.accepted_at = now
        self.end_notice_at = None
        self.events.append(ProposalAccepted(**self._ids(actor_id, reason)))

    def reject(self, actor_id: str, now: datetime, reason: str | None = None) -> None:
        reason = _clean_reason(reason)
        self._require(actor_id, Action.REJECT)
        self._move(Action.REJECT, Status.REJECTED, actor_id, Role.MENTOR, now, reason)
        self.events.append(ProposalRejected(**self._ids(actor_id, reason)))

    def withdraw(self, actor_id: str, now: datetime, reason: str | None = None) -> None:
        reason = _clean_reason(reason)
        role = self._require(actor_id, Action.WITHDRAW)
        was_pending = self.status is Status.PENDING
        self._move(Action.WITHDRAW, Status.WITHDRAWN, actor_id, role, now, reason)
        self.withdrawn_by = actor_id
        event = ProposalWithdrawn if was_pending else RelationshipWithdrawn
        self.events.append(event(**self._ids(actor_id, reason)))

    def leave_connect(self, member_id: str, now: datetime, reason: str) -> None:
        """The member deleted their account: they withdraw from this open relationship,
        whichever side they are on (the FAQ: deleting "will withdraw you from any existing
        relationship(s)"); a mentor leaving is not a mentor declining a proposal."""
        role = self.role_of(member_id)
        if role is None or not self.is_open:
            raise MoveRefused(Action.WITHDRAW, self.status, "Only an open relationship of the member's is left.")
        was_pending = self.status is Status.PENDING
        self._move(Action.WITHDRAW, Status.WITHDRAWN, member_id, role, now, reason)
        self.withdrawn_by = member_id
        event = ProposalWithdrawn if was_pending else RelationshipWithdrawn
        self.events.append(event(**self._ids(member_id, reason), account_deleted=True))

    def complete(self, actor_id: str, now: datetime, reason: str | None = None) -> None:
        reason = _clean_reason(reason)
        role = self._require(actor_id, Action.COMPLETE)
        self._move(Action.COMPLETE, Status.COMPLETED, actor_id, role, now, reason)
        self.events.append(RelationshipCompleted(**self._ids(actor_id, reason)))

    def reopen(self, actor_id: str, now: datetime, reason: str | None = None) -> None:
        """Back to pending; the timers start a new cycle from now."""
        reason = _clean_reason(reason)
        role = self._require(actor_id, Action.REOPEN)
        self._move(Action.REOPEN, Status.PENDING, actor_id, role, now, reason)
        self.withdrawn_by = None
        self.accepted_at = None
        self.cycle += 1
        self.cycle_started_at = now
        self.reminders_done = frozenset()
        self.events.append(ProposalReopened(**self._ids(actor_id, reason)))

    def edit(self, actor_id: str, content: ProposalContent, now: datetime) -> list[str]:
        """The mentee revises a pending proposal; returns the changed fields (none: nothing recorded)."""
        self._require(actor_id, Action.EDIT)
        content.validate()
        changed = self.proposal.content.changed_fields(content)
        if not changed:
            return []
        version = ProposalVersion(self.proposal.number + 1, content, actor_id, now)
        self.proposal = version
        self.new_versions.append(version)
        self.updated_at = now
        self.events.append(ProposalEdited(**self._ids(actor_id, None), changed_fields=changed,
                                          proposal_version=version.number))
        return changed

    # --- system moves (the sweep) ------------------------------------------------------
    def send_reminder(self, day: int, now: datetime, skipped: tuple[int, ...] = ()) -> None:
        if self.status is not Status.PENDING:
            raise MoveRefused(Action.REMIND, self.status, f"No reminder for a {self.status} relationship.")
        if day not in REMINDER_DAYS or day in self.reminders_done or now < self.cycle_started_at + timedelta(days=day):
            raise MoveRefused(Action.REMIND, self.status, f"The day-{day} reminder is not due.")
        for skipped_day in skipped:
            if skipped_day in self.reminders_done or skipped_day >= day:
                raise MoveRefused(Action.REMIND, self.status, f"Cannot skip the day-{skipped_day} reminder.")
        for skipped_day in skipped:
            self.new_reminders.append(ReminderOutcome(self.cycle, skipped_day, False, now))
        self.new_reminders.append(ReminderOutcome(self.cycle, day, True, now))
        self.reminders_done = self.reminders_done | {day, *skipped}
        self.events.append(ProposalReminderDue(**self._ids(None, None), day=day, sent_at=now))

    def expire(self, now: datetime, alternatives: list[AlternativeMentor]) -> None:
        if self.status is not Status.PENDING or now < self.cycle_started_at + timedelta(days=EXPIRY_DAYS):
            raise MoveRefused(Action.EXPIRE, self.status, "The proposal is not due to expire.")
        reason = f"No answer within {EXPIRY_DAYS} days"
        self._move(Action.EXPIRE, Status.EXPIRED, None, Role.SYSTEM, now, reason)
        suggested = [a.model_copy(update={"why": why_suggested(a, self.proposal.content.areas)})
                     for a in alternatives[:3]]
        self.new_alternatives = suggested
        self.events.append(ProposalExpired(**self._ids(None, reason), areas=list(self.proposal.content.areas),
                                           alternatives=suggested))

    def send_end_notice(self, now: datetime) -> None:
        """Tell both parties the planned end is `END_NOTICE_DAYS` away (once per acceptance)."""
        end = self.planned_end
        if self.status is not Status.ACCEPTED or end is None or self.end_notice_at is not None \
                or now < end - timedelta(days=END_NOTICE_DAYS):
            raise MoveRefused(Action.REMIND, self.status, "No planned-end notice is due.")
        self.end_notice_at = now
        self.updated_at = now
        self.events.append(RelationshipEndingSoon(**self._ids(None, None), planned_end=end))

    def complete_at_planned_end(self, now: datetime) -> None:
        """The relationship reached its planned end: the system completes it (the FAQ's year at
        most; the two may stay in touch as long as they wish)."""
        end = self.planned_end
        if self.status is not Status.ACCEPTED or end is None or now < end:
            raise MoveRefused(Action.COMPLETE, self.status, "The relationship has not reached its planned end.")
        self._move(Action.COMPLETE, Status.COMPLETED, None, Role.SYSTEM, now, PLANNED_END_REASON)
        self.events.append(RelationshipCompleted(**self._ids(None, PLANNED_END_REASON), planned_end_reached=True))

    def snapshot(self) -> "Relationship":
        """A copy for comparison (tests: a refused move must leave everything as it was)."""
        return replace(self, new_changes=list(self.new_changes), new_versions=list(self.new_versions),
                       new_reminders=list(self.new_reminders), new_alternatives=list(self.new_alternatives),
                       events=list(self.events))


def first_line(message: str, limit: int = SUMMARY_CHARS) -> str:
    """What a list shows of a proposal: its first non-blank line, cut at a word boundary with an
    ellipsis when longer than `limit` characters."""
    line = next((part.strip() for part in message.splitlines() if part.strip()), "")
    if len(line) <= limit:
        return line
    cut = line[:limit - 1]
    cut = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return cut.rstrip() + "\u2026"
