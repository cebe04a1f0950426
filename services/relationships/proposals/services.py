"""Proposal use cases: sending, the moves of the state machine, editing, the details and
list views, and the timers (reminders at 3/7/15 days, expiry at 21; for an accepted
relationship, the notice 14 days before its planned end and the completion at it).

Every command runs in one `RelationshipsUnitOfWork`: load (row-locked on
PostgreSQL, under SQLite's write lock otherwise), let the domain decide, write
the change and its events together.  A caller's `Receipt` (the HTTP edge's
idempotency record) is kept in that same transaction.  Refusals are the domain
errors of `proposals/domain.py`; results are the views the API returns.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from sqlalchemy.exc import IntegrityError

from connect.auth import Member
from connect.clock import Clock, utc
from connect.etags import entity_tag, require_current, require_if_match
from connect.uow import Receipt
from schemas.events import AlternativeMentor
from services.relationships.adapters.repository import RelationshipsUnitOfWork
from services.relationships.interfaces import MentorFacts, MentorSuggestions
from services.relationships.proposals.domain import (EXPIRY_DAYS, Action, InvalidProposal, MentorUnavailable,
                                                     MoveRefused, NoSuchRelationship, ProposalContent, Relationship,
                                                     RelationshipExists, Role, Status, available_actions,
                                                     first_line, planned_end)

log = logging.getLogger(__name__)

TRANSITIONS = (Action.ACCEPT, Action.REJECT, Action.WITHDRAW, Action.REOPEN, Action.COMPLETE)


def iso(value: datetime | None) -> str | None:
    return utc(value).isoformat().replace("+00:00", "Z") if value is not None else None


def relationship_for(uow: RelationshipsUnitOfWork, member_id: str, relationship_id: str, *,
                     lock: bool = True) -> Relationship:
    """The relationship, when the member is a party to it (locked for the transaction when `lock`)."""
    rel = uow.relationships.get(relationship_id, for_update=lock)
    if rel is None or rel.role_of(member_id) is None:
        raise NoSuchRelationship(relationship_id)
    return rel


def list_item(row: Any, member_id: str, names: dict[str, str], last_activity: datetime | None) -> dict[str, Any]:
    """A relationship as "my relationships" lists it, from its row with its current proposal's
    `message`; `last_activity` is the parties' latest message, meeting or tool change, if any."""
    my_role = Role.MENTOR if row.mentor_id == member_id else Role.MENTEE
    other = row.mentee_id if my_role is Role.MENTOR else row.mentor_id
    status = Status(row.status)
    return {
        "id": row.id, "status": status.value, "my_role": my_role.value,
        "counterpart": {"member_id": other, "name": names.get(other, other)},
        "actions": [a.value for a in available_actions(status, my_role, i_withdrew=row.withdrawn_by == member_id)],
        "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
        "proposal_summary": first_line(row.message),
        "last_activity_at": iso(max(utc(row.updated_at), last_activity or utc(row.updated_at))),
    }


@dataclass
class SweepReport:
    reminders: dict[int, int] = field(default_factory=dict)
    skipped_reminders: int = 0
    expired: int = 0
    end_notices: int = 0
    completed: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"reminders": {str(k): v for k, v in sorted(self.reminders.items())},
                "skipped_reminders": self.skipped_reminders, "expired": self.expired,
                "end_notices": self.end_notices, "completed": self.completed, "batches": self.batches}


class ProposalsService:
    def __init__(self, uow: Callable[[], RelationshipsUnitOfWork], clock: Clock,
                 suggestions: MentorSuggestions | None = None, mentors: MentorFacts | None = None, *,
                 reader: Callable[[], RelationshipsUnitOfWork] | None = None) -> None:
        self.uow = uow
        self.reader = reader or uow  # for use cases that only read
        self.clock = clock
        self.suggestions = suggestions
        self.mentors = mentors

    def _ask_matching(self, mentor_id: str | Callable[[RelationshipsUnitOfWork], str | None]
                      ) -> dict[str, Any] | None:
        """Matching's facts on a mentor the member projection does not know as one, else None.

        The projection may not have heard of a profile written a moment ago: matching,
        which owns profiles, says whether this is a mentor.  Asked before the command's
        transaction opens, so a slow matching (an HTTP call in the distributed shape)
        holds no row lock and no open transaction; the command decides under its lock
        with what was said.  `mentor_id` may be a function that reads it (None: ask nobody).
        """
        if self.mentors is None:
            return None
        with self.reader() as uow:  # a read: on SQLite no write lock before the command takes it
            asked_for = mentor_id(uow) if callable(mentor_id) else mentor_id
            mentor = uow.members.get(asked_for) if asked_for is not None else None
        if asked_for is None or (mentor is not None and mentor.is_mentor):
            return None
        return self.mentors.mentor(asked_for)

    def _require_available_mentor(self, uow: RelationshipsUnitOfWork, mentor_id: str,
                                  facts: dict[str, Any] | None) -> None:
        """Refuses unless `mentor_id` is an active, available mentor; `facts` is what matching said
        beforehand (`_ask_matching`), projected here when the projection still does not know the
        mentor (the profile event, when it arrives, writes the same facts again)."""
        mentor = uow.members.get(mentor_id)
        if (mentor is None or not mentor.is_mentor) and facts is not None:
            learned = {"is_mentor": True, "available": facts["available"], "expertise": facts["expertise"]}
            named = {"name": facts["name"]} if facts["name"] and (mentor is None or not mentor.name) else {}
            uow.members.upsert(mentor_id, {**learned, **named}, {**learned, **named}, self.clock.now())
            mentor = uow.members.get(mentor_id)
        if mentor is None or not mentor.is_mentor:
            raise MentorUnavailable(mentor_id, "not_a_mentor",
                                    f"Member {mentor_id} is not a mentor on Connect (no mentor profile is known).")
        if not mentor.active:
            raise MentorUnavailable(mentor_id, "inactive", f"Mentor {mentor_id} has left Connect (the account is "
                                                           "inactive).")
        if not mentor.available:
            raise MentorUnavailable(mentor_id, "unavailable", f"Mentor {mentor_id} is currently unavailable to "
                                                              "mentees.")

    def _open_pair_conflict(self, mentor_id: str, mentee_id: str, existing: Any | None = None) -> RelationshipExists:
        if existing is None:
            with self.uow() as uow:
                existing = uow.relationships.open_between(mentor_id, mentee_id)
        return RelationshipExists(mentor_id, mentee_id, existing.id if existing is not None else None,
                                  existing.status if existing is not None else None)

    # --- commands ------------------------------------------------------------------------
    def propose(self, mentee: Member, mentor_id: str, content: ProposalContent,
                receipt: Receipt | None = None) -> dict[str, Any]:
        if mentor_id == mentee.id:
            raise InvalidProposal({"mentor_id": "you cannot send a proposal to yourself"})
        facts = self._ask_matching(mentor_id)
        try:
            with self.uow() as uow:
                self._require_available_mentor(uow, mentor_id, facts)
                existing = uow.relationships.open_between(mentor_id, mentee.id)
                if existing is not None:
                    raise self._open_pair_conflict(mentor_id, mentee.id, existing)
                rel = Relationship.propose(str(uuid.uuid4()), mentor_id, mentee.id, content, self.clock.now())
                uow.relationships.add(rel)
                uow.flush()
                view = self._details(uow, rel.id, mentee.id)
                uow.keep(receipt, view)
                uow.commit()
                return view
        except IntegrityError as exc:
            # Another proposal for this pair committed between our check and our insert.
            raise self._open_pair_conflict(mentor_id, mentee.id) from exc

    def transition(self, member_id: str, relationship_id: str, action: Action, reason: str | None = None,
                   expected_status: Status | None = None, receipt: Receipt | None = None) -> dict[str, Any]:
        """accept / reject / withdraw / reopen / complete, by a party of the relationship.

        `expected_status` (optional) makes the move conditional on the status the
        caller saw: a mentee withdrawing a *proposal* does not withdraw from a
        relationship the mentor accepted a moment earlier.
        """
        if action not in TRANSITIONS:
            raise ValueError(action)
        facts = self._ask_matching(self._reopener_mentor(member_id, relationship_id)) if action is Action.REOPEN else None
        try:
            with self.uow() as uow:
                rel = relationship_for(uow, member_id, relationship_id)
                if expected_status is not None and rel.status is not expected_status:
                    raise MoveRefused(action, rel.status, f"The relationship is {rel.status} now, not "
                                                          f"{expected_status}.")
                if action is Action.REOPEN:
                    existing = uow.relationships.open_between(rel.mentor_id, rel.mentee_id)
                    if existing is not None and existing.id != rel.id:
                        raise self._open_pair_conflict(rel.mentor_id, rel.mentee_id, existing)
                    if rel.role_of(member_id) is Role.MENTEE and action in rel.actions_for(member_id):
                        self._require_available_mentor(uow, rel.mentor_id, facts)
                getattr(rel, action.value)(member_id, self.clock.now(), reason)
                uow.flush()
                view = self._details(uow, rel.id, member_id)
                uow.keep(receipt, view)
                uow.commit()
                return view
        except IntegrityError as exc:
            with self.uow() as uow:
                pair = uow.relationships.pair(relationship_id)
            raise self._open_pair_conflict(*pair) from exc

    @staticmethod
    def _reopener_mentor(member_id: str, relationship_id: str) -> Callable[[RelationshipsUnitOfWork], str | None]:
        """The mentor of the relationship when `member_id` is its mentee (who may reopen it), else None.

        Read without a lock: a relationship's mentor never changes, and the move itself
        re-reads and decides under the lock."""
        def read(uow: RelationshipsUnitOfWork) -> str | None:
            rel = uow.relationships.get(relationship_id, for_update=False)
            return rel.mentor_id if rel is not None and rel.role_of(member_id) is Role.MENTEE else None
        return read

    def edit_proposal(self, member_id: str, relationship_id: str, if_match: str | None,
                      changes: dict[str, Any]) -> dict[str, Any]:
        """The mentee revises a pending proposal; `changes` holds the fields to replace."""
        if_match = require_if_match(if_match, "Send If-Match with the ETag of the proposal you are editing.")
        with self.uow() as uow:
            rel = relationship_for(uow, member_id, relationship_id)
            require_current(if_match, entity_tag(rel.id, rel.proposal.number),
                            "The proposal changed since you read it; reload it and edit again.")
            old = rel.proposal.content
            merged = {name: changes.get(name, getattr(old, name)) for name in
                      ("message", "areas", "goals", "interaction_modes", "duration_months")}
            content = ProposalContent(message=merged["message"], areas=tuple(merged["areas"]), goals=merged["goals"],
                                      interaction_modes=tuple(merged["interaction_modes"]),
                                      duration_months=merged["duration_months"])
            rel.edit(member_id, content, self.clock.now())
            uow.flush()
            view = self._details(uow, rel.id, member_id)
            uow.commit()
            return view

    # --- queries -------------------------------------------------------------------------
    def details(self, member_id: str, relationship_id: str) -> dict[str, Any]:
        with self.reader() as uow:
            return self._details(uow, relationship_id, member_id)

    def _details(self, uow: RelationshipsUnitOfWork, relationship_id: str, member_id: str) -> dict[str, Any]:
        records = uow.relationships
        row = records.row(relationship_id)
        if row is None or member_id not in (row.mentor_id, row.mentee_id):
            raise NoSuchRelationship(relationship_id)
        versions = records.versions(relationship_id)
        history = records.history(relationship_id)
        reminders = records.reminders(relationship_id)
        role = Role.MENTOR if member_id == row.mentor_id else Role.MENTEE
        # Alternatives are suggested only at an expiry, and only the mentee sees them.
        expired_before = any(h.action == Action.EXPIRE.value for h in history)
        alternatives = records.alternatives(relationship_id) if role is Role.MENTEE and expired_before else []
        names = uow.members.names({row.mentor_id, row.mentee_id, *(h.actor_id for h in history if h.actor_id)})
        counterpart = row.mentee_id if role is Role.MENTOR else row.mentor_id
        status = Status(row.status)

        def person(mid: str | None) -> dict[str, str] | None:
            return {"member_id": mid, "name": names.get(mid, mid)} if mid else None

        def version_view(v: Any) -> dict[str, Any]:
            return {"version": v.version, "message": v.message, "areas": list(v.areas), "goals": v.goals,
                    "interaction_modes": list(v.interaction_modes), "duration_months": v.duration_months,
                    "author_id": v.author_id, "created_at": iso(v.created_at)}

        current = version_view(versions[-1])
        return {
            "id": row.id, "status": status.value, "my_role": role.value,
            "mentor": person(row.mentor_id), "mentee": person(row.mentee_id), "counterpart": person(counterpart),
            "actions": [a.value for a in available_actions(status, role, i_withdrew=row.withdrawn_by == member_id)],
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
            "accepted_at": iso(row.accepted_at),
            "duration_months": current["duration_months"],
            "planned_end": iso(planned_end(utc(row.accepted_at) if row.accepted_at else None,
                                           current["duration_months"])),
            "expires_at": iso(utc(row.cycle_started_at) + timedelta(days=EXPIRY_DAYS))
            if status is Status.PENDING else None,
            "withdrawn_by": row.withdrawn_by,
            "proposal": current,
            "proposal_history": [version_view(v) for v in versions],
            "status_history": [{"action": h.action, "from_status": h.from_status, "to_status": h.to_status,
                                "actor": person(h.actor_id), "actor_role": h.actor_role, "reason": h.reason,
                                "at": iso(h.at)} for h in history],
            "reminders": [{"cycle": r.cycle, "day": r.day, "sent": r.sent, "at": iso(r.at)} for r in reminders],
            "end_notice_at": iso(row.end_notice_at),
            "suggested_alternatives": [{"member_id": a.member_id, "name": a.name, "headline": a.headline,
                                        "why": a.why, "profile": f"/v1/mentors/{a.member_id}",
                                        "suggested_at": iso(a.suggested_at)} for a in alternatives],
            "etag": entity_tag(row.id, row.proposal_version),
        }

    def list_relationships(self, member_id: str, role: Role | None = None, statuses: Sequence[Status] = (),
                           after: tuple[datetime, str] | None = None, limit: int = 20) -> dict[str, Any]:
        """Newest change first; `after` (updated_at, id) continues a listing, and `next_cursor` is
        where the next page starts (the API seals it into an opaque cursor)."""
        with self.reader() as uow:
            rows = uow.relationships.page(member_id, role, statuses, after, limit)
            page, more = rows[:limit], len(rows) > limit
            names = uow.members.names({r.mentor_id for r in page} | {r.mentee_id for r in page})
            last_activity = uow.workspace.last_activity([r.id for r in page])
        items = [list_item(row, member_id, names, last_activity.get(row.id)) for row in page]
        next_cursor = (utc(page[-1].updated_at), page[-1].id) if more else None
        return {"items": items, "next_cursor": next_cursor}

    # --- timers --------------------------------------------------------------------------
    def send_due_reminders(self, now: datetime | None = None, batch_size: int = 500) -> SweepReport:
        """Apply every timer due at `now` (default: the clock): reminders and expiries.

        Batches of due rows are locked with FOR UPDATE SKIP LOCKED (PostgreSQL) so
        concurrent sweeps share the work instead of repeating it; each batch's
        changes and events commit together, and the unique (relationship, cycle,
        day) constraint on reminders makes a repeat impossible even so.
        """
        now = now or self.clock.now()
        report = SweepReport()
        suggestions: dict[tuple[str, ...], list[AlternativeMentor]] = {}
        conflicts = 0
        while True:
            try:
                due, acted = self._sweep_batch(now, batch_size, report, suggestions)
            except IntegrityError:
                # Another sweep handled some of these rows first (the unique reminder slot
                # refused a repeat); this batch rolled back whole, so select again.
                conflicts += 1
                if conflicts > 10:
                    raise
                continue
            if due is None:
                break
            report.batches += 1
            if due < batch_size or not acted:
                break
        return report

    def _sweep_batch(self, now: datetime, batch_size: int, report: SweepReport,
                     suggestions: dict[tuple[str, ...], list[AlternativeMentor]]) -> tuple[int | None, int]:
        batch = SweepReport()
        self._prefetch_alternatives(now, batch_size, suggestions)
        with self.uow() as uow:
            due = uow.relationships.due(now, batch_size)
            if not due:
                return None, 0
            acted = 0
            for rel in due:
                timer = rel.timer_due(now)
                if timer is None:
                    continue
                acted += 1
                if timer.expire:
                    rel.expire(now, self._alternatives(rel, suggestions))
                    batch.expired += 1
                elif timer.end_notice:
                    rel.send_end_notice(now)
                    batch.end_notices += 1
                elif timer.complete:
                    rel.complete_at_planned_end(now)
                    batch.completed += 1
                else:
                    rel.send_reminder(timer.day, now, timer.skipped)  # type: ignore[arg-type]
                    batch.reminders[timer.day] = batch.reminders.get(timer.day, 0) + 1  # type: ignore[index]
                    batch.skipped_reminders += len(timer.skipped)
            uow.commit()
        # Counted only once committed, so a rolled-back batch is not reported.
        report.expired += batch.expired
        report.end_notices += batch.end_notices
        report.completed += batch.completed
        report.skipped_reminders += batch.skipped_reminders
        for day, count in batch.reminders.items():
            report.reminders[day] = report.reminders.get(day, 0) + count
        return len(due), acted

    def _prefetch_alternatives(self, now: datetime, batch_size: int,
                               cache: dict[tuple[str, ...], list[AlternativeMentor]]) -> None:
        """Ask for the next batch's suggestions before taking its locks, so a slow matching
        never holds row locks (or SQLite's write lock) while members try to answer."""
        if self.suggestions is None:
            return
        with self.uow() as uow:
            texts = uow.relationships.expiring_area_sets(now, batch_size)
        for areas in {tuple(sorted(json.loads(value))) for value in texts}:
            if areas not in cache:
                cache[areas] = self.suggestions.suggest(list(areas), [], 5)

    def _alternatives(self, rel: Relationship, cache: dict[tuple[str, ...], list[AlternativeMentor]]
                      ) -> list[AlternativeMentor]:
        if self.suggestions is None:
            return []
        areas = tuple(sorted(rel.proposal.content.areas))
        if areas not in cache:  # normally prefetched; a proposal that became due meanwhile is asked here
            # Asked once per set of areas per sweep; a few spare in case the pair itself is among them.
            cache[areas] = self.suggestions.suggest(list(areas), [], 5)
        return [a for a in cache[areas] if a.member_id not in (rel.mentor_id, rel.mentee_id)][:3]
