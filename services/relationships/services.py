"""Relationships use cases: proposals, transitions, the details and list views, the
member projection and the timer sweep.

Every command runs in one `RelationshipsUnitOfWork`: load (row-locked on
PostgreSQL, under SQLite's write lock otherwise), let the domain decide, write
the change and its events together.  An optional `respond` callback lets the
caller store the HTTP response in that same transaction (idempotency keys).
Use-case errors are `connect.problems.Problem`s: the API hands them on as
problem+json, the CLI prints them.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from pydantic import ValidationError
from sqlalchemy import Text, and_, cast, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connect.auth import Member
from connect.clock import Clock, utc
from connect.db import Database
from connect.events import PoisonMessage, Record
from connect.outbox import Outbox
from connect.problems import Problem, field_error, validation_problem
from schemas.events import (AccountDeleted, AlternativeMentor, Envelope, MemberDetailsChanged, MemberErased,
                            MentorAvailabilityChanged, MentorProfileChanged, UnknownEvent)
from services.relationships.adapters import orm
from services.relationships.adapters.idempotency import IdempotencyStore
from services.relationships.adapters.repository import RelationshipsUnitOfWork
from services.relationships.domain.model import (EXPIRY_DAYS, Action, InvalidProposal, MoveRefused,
                                                 ProposalContent, Relationship, Role, Status, available_actions,
                                                 planned_end)
from services.relationships.interfaces import MentorSuggestions

log = logging.getLogger(__name__)

#: respond(session, status_code, body, headers): store the answer in the command's own transaction.
Responder = Callable[[Session, int, dict[str, Any], dict[str, str]], None]

_rel = orm.relationships
_members = orm.members
TRANSITIONS = (Action.ACCEPT, Action.REJECT, Action.WITHDRAW, Action.REOPEN, Action.COMPLETE)


def iso(value: datetime | None) -> str | None:
    return utc(value).isoformat().replace("+00:00", "Z") if value is not None else None


def etag_of(relationship_id: str, proposal_version: int) -> str:
    """The proposal's entity tag: it changes with every edit and only then."""
    return f'"{relationship_id}.{proposal_version}"'


def _etag_matches(if_match: str, current: str) -> bool:
    candidates = [tag.strip() for tag in if_match.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in candidates)


@dataclass
class SweepReport:
    reminders: dict[int, int] = field(default_factory=dict)
    skipped_reminders: int = 0
    expired: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"reminders": {str(k): v for k, v in sorted(self.reminders.items())},
                "skipped_reminders": self.skipped_reminders, "expired": self.expired, "batches": self.batches}


class RelationshipsService:
    def __init__(self, database: Database, clock: Clock, after_commit: Callable[[], None] | None = None,
                 suggestions: MentorSuggestions | None = None) -> None:
        self.database = database
        self.clock = clock
        self.outbox = Outbox(orm.outbox, producer="relationships")
        self.after_commit = after_commit
        self.suggestions = suggestions
        self.idempotency = IdempotencyStore(database, clock)
        # Names and emails last written from tokens, so an unchanged caller costs no write.
        self._seen: dict[str, tuple[str, str]] = {}
        self._seen_lock = threading.Lock()

    def uow(self) -> RelationshipsUnitOfWork:
        return RelationshipsUnitOfWork(self.database, self.outbox, self.clock, self.after_commit)

    # --- the member projection -------------------------------------------------------------
    def _upsert_member(self, session: Session, member_id: str, insert: dict[str, Any],
                       update: dict[str, Any]) -> None:
        if self.database.is_postgres:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        now = self.clock.now()
        defaults = {"name": None, "email": None, "is_mentor": False, "available": False, "active": True,
                    "expertise": None}
        statement = dialect_insert(_members).values(member_id=member_id, updated_at=now, **{**defaults, **insert})
        session.execute(statement.on_conflict_do_update(index_elements=[_members.c.member_id],
                                                        set_={**update, "updated_at": now}))

    def member_seen(self, member: Member) -> None:
        """Authenticator hook: the caller's name and email come from their token."""
        details = (member.name, member.email)
        with self._seen_lock:
            if self._seen.get(member.id) == details:
                return
        values = {"name": member.name, "email": member.email}
        with self.database.session() as session, session.begin():
            self._upsert_member(session, member.id, values, values)
        with self._seen_lock:
            self._seen[member.id] = details

    def knows_details(self, member: Member) -> bool:
        """Settles `member_seen` from memory: the directory already holds this name and email."""
        return self._seen.get(member.id) == (member.name, member.email)

    def project_member_event(self, record: Record) -> None:
        """Consumer of connect.members.v1 and connect.profiles.v1 (role "projector").

        Every write is an idempotent upsert of the latest facts, so duplicates are
        harmless; types this service does not use are skipped.
        """
        try:
            envelope = Envelope.from_bytes(record.value)
            event = envelope.payload()
        except UnknownEvent:
            return
        except ValidationError as exc:
            raise PoisonMessage(f"unreadable event: {exc}") from exc
        member_id = getattr(event, "member_id", None)
        if member_id is None:
            return
        if isinstance(event, MemberDetailsChanged):
            values: dict[str, Any] = {"name": event.name, "email": event.email}
        elif isinstance(event, MentorProfileChanged):
            values = {"is_mentor": True, "available": event.available, "expertise": list(event.expertise)}
        elif isinstance(event, MentorAvailabilityChanged):
            values = {"is_mentor": True, "available": event.available}
        elif isinstance(event, AccountDeleted):
            values = {"active": False, "available": False}
        elif isinstance(event, MemberErased):
            values = {"name": None, "email": None, "active": False, "available": False}
        else:
            return
        with self.database.session() as session, session.begin():
            self._upsert_member(session, member_id, values, values)
        with self._seen_lock:
            self._seen.pop(member_id, None)

    def _names(self, session: Session, member_ids: set[str]) -> dict[str, str]:
        if not member_ids:
            return {}
        rows = session.execute(select(_members.c.member_id, _members.c.name)
                               .where(_members.c.member_id.in_(sorted(member_ids))))
        return {row.member_id: row.name for row in rows if row.name}

    def _require_available_mentor(self, session: Session, mentor_id: str) -> None:
        mentor = session.execute(select(_members).where(_members.c.member_id == mentor_id)).first()
        if mentor is None or not mentor.is_mentor:
            raise Problem(409, f"Member {mentor_id} is not a mentor on Connect (no mentor profile is known).",
                          type_="mentor-unavailable", mentor_id=mentor_id, why="not_a_mentor")
        if not mentor.active:
            raise Problem(409, f"Mentor {mentor_id} has left Connect (the account is inactive).",
                          type_="mentor-unavailable", mentor_id=mentor_id, why="inactive")
        if not mentor.available:
            raise Problem(409, f"Mentor {mentor_id} is currently unavailable to mentees.",
                          type_="mentor-unavailable", mentor_id=mentor_id, why="unavailable")

    def _open_pair_conflict(self, mentor_id: str, mentee_id: str, existing: Any | None = None) -> Problem:
        if existing is None:
            with self.uow() as uow:
                existing = uow.relationships.open_between(mentor_id, mentee_id)
        relationship_id = existing.id if existing is not None else None
        status = existing.status if existing is not None else None
        return Problem(409, f"There is already an open ({status}) relationship {relationship_id} between "
                            f"mentor {mentor_id} and mentee {mentee_id}.",
                       type_="relationship-exists", relationship_id=relationship_id, relationship_status=status)

    # --- commands ------------------------------------------------------------------------
    def propose(self, mentee: Member, mentor_id: str, content: ProposalContent,
                respond: Responder | None = None) -> dict[str, Any]:
        if mentor_id == mentee.id:
            raise validation_problem([field_error("mentor_id", "you cannot send a proposal to yourself")])
        try:
            with self.uow() as uow:
                self._require_available_mentor(uow.session, mentor_id)
                existing = uow.relationships.open_between(mentor_id, mentee.id)
                if existing is not None:
                    raise self._open_pair_conflict(mentor_id, mentee.id, existing)
                try:
                    rel = Relationship.propose(str(uuid.uuid4()), mentor_id, mentee.id, content, self.clock.now())
                except InvalidProposal as exc:
                    raise validation_problem([field_error(k, v) for k, v in exc.errors.items()]) from exc
                uow.relationships.add(rel)
                uow.flush()
                view = self._details(uow.session, rel.id, mentee.id)
                if respond is not None:
                    respond(uow.session, 201, view, {"ETag": view["etag"], "Location": f"/v1/relationships/{rel.id}"})
                uow.commit()
                return view
        except IntegrityError as exc:
            # Another proposal for this pair committed between our check and our insert.
            raise self._open_pair_conflict(mentor_id, mentee.id) from exc

    def transition(self, member_id: str, relationship_id: str, action: Action, reason: str | None = None,
                   expected_status: Status | None = None, respond: Responder | None = None) -> dict[str, Any]:
        """accept / reject / withdraw / reopen / complete, by a party of the relationship.

        `expected_status` (optional) makes the move conditional on the status the
        caller saw: a mentee withdrawing a *proposal* does not withdraw from a
        relationship the mentor accepted a moment earlier.
        """
        if action not in TRANSITIONS:
            raise ValueError(action)
        try:
            with self.uow() as uow:
                rel = self._get_for(uow, member_id, relationship_id)
                if expected_status is not None and rel.status is not expected_status:
                    raise self._refused(action, rel.status,
                                        f"The relationship is {rel.status} now, not {expected_status}.")
                if action is Action.REOPEN:
                    existing = uow.relationships.open_between(rel.mentor_id, rel.mentee_id)
                    if existing is not None and existing.id != rel.id:
                        raise self._open_pair_conflict(rel.mentor_id, rel.mentee_id, existing)
                    if rel.role_of(member_id) is Role.MENTEE and action in rel.actions_for(member_id):
                        self._require_available_mentor(uow.session, rel.mentor_id)
                try:
                    getattr(rel, action.value)(member_id, self.clock.now(), reason)
                except MoveRefused as refused:
                    raise self._refused(action, refused.status, refused.detail) from refused
                except InvalidProposal as exc:
                    raise validation_problem([field_error(k, v) for k, v in exc.errors.items()]) from exc
                uow.flush()
                view = self._details(uow.session, rel.id, member_id)
                if respond is not None:
                    respond(uow.session, 200, view, {"ETag": view["etag"]})
                uow.commit()
                return view
        except IntegrityError as exc:
            raise self._open_pair_conflict(*self._pair_of(relationship_id)) from exc

    def edit_proposal(self, member_id: str, relationship_id: str, if_match: str | None,
                      changes: dict[str, Any]) -> dict[str, Any]:
        """The mentee revises a pending proposal; `changes` holds the fields to replace."""
        if not if_match:
            raise Problem(428, "Send If-Match with the ETag of the proposal you are editing.",
                          type_="precondition-required")
        with self.uow() as uow:
            rel = self._get_for(uow, member_id, relationship_id)
            current = etag_of(rel.id, rel.proposal.number)
            if not _etag_matches(if_match, current):
                raise Problem(412, "The proposal changed since you read it; reload it and edit again.",
                              type_="stale-etag", headers={"ETag": current}, etag=current)
            old = rel.proposal.content
            merged = {name: changes.get(name, getattr(old, name)) for name in
                      ("message", "areas", "goals", "interaction_modes", "duration_months")}
            content = ProposalContent(message=merged["message"], areas=tuple(merged["areas"]), goals=merged["goals"],
                                      interaction_modes=tuple(merged["interaction_modes"]),
                                      duration_months=merged["duration_months"])
            try:
                rel.edit(member_id, content, self.clock.now())
            except MoveRefused as refused:
                raise self._refused(Action.EDIT, refused.status, refused.detail) from refused
            except InvalidProposal as exc:
                raise validation_problem([field_error(k, v) for k, v in exc.errors.items()]) from exc
            uow.flush()
            view = self._details(uow.session, rel.id, member_id)
            uow.commit()
            return view

    def _get_for(self, uow: RelationshipsUnitOfWork, member_id: str, relationship_id: str) -> Relationship:
        rel = uow.relationships.get(relationship_id)
        if rel is None or rel.role_of(member_id) is None:
            # Strangers learn nothing, not even that the relationship exists.
            raise Problem(404, f"No relationship {relationship_id} of yours.", type_="not-found")
        return rel

    def _pair_of(self, relationship_id: str) -> tuple[str, str]:
        with self.database.session() as session:
            row = session.execute(select(_rel.c.mentor_id, _rel.c.mentee_id).where(_rel.c.id == relationship_id)).one()
        return row.mentor_id, row.mentee_id

    @staticmethod
    def _refused(action: Action, status: Status, detail: str) -> Problem:
        return Problem(409, detail, type_="transition-not-allowed", action=action.value, current_status=status.value)

    # --- queries -------------------------------------------------------------------------
    def details(self, member_id: str, relationship_id: str) -> dict[str, Any]:
        with self.database.session() as session:
            return self._details(session, relationship_id, member_id)

    def _details(self, session: Session, relationship_id: str, member_id: str) -> dict[str, Any]:
        row = session.execute(select(_rel).where(_rel.c.id == relationship_id)).first()
        if row is None or member_id not in (row.mentor_id, row.mentee_id):
            raise Problem(404, f"No relationship {relationship_id} of yours.", type_="not-found")
        versions = session.execute(select(orm.proposal_versions)
                                   .where(orm.proposal_versions.c.relationship_id == relationship_id)
                                   .order_by(orm.proposal_versions.c.version)).all()
        history = session.execute(select(orm.status_history)
                                  .where(orm.status_history.c.relationship_id == relationship_id)
                                  .order_by(orm.status_history.c.id)).all()
        reminders = session.execute(select(orm.reminders).where(orm.reminders.c.relationship_id == relationship_id)
                                    .order_by(orm.reminders.c.cycle, orm.reminders.c.day)).all()
        names = self._names(session, {row.mentor_id, row.mentee_id, *(h.actor_id for h in history if h.actor_id)})
        role = Role.MENTOR if member_id == row.mentor_id else Role.MENTEE
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
            "etag": etag_of(row.id, row.proposal_version),
        }

    def list_relationships(self, member_id: str, role: Role | None = None, statuses: Sequence[Status] = (),
                           after: tuple[datetime, str] | None = None, limit: int = 20) -> dict[str, Any]:
        """Newest change first; `after` (updated_at, id) continues a listing, and `next_cursor` is
        where the next page starts (the API seals it into an opaque cursor)."""
        if role is Role.MENTOR:
            mine = _rel.c.mentor_id == member_id
        elif role is Role.MENTEE:
            mine = _rel.c.mentee_id == member_id
        else:
            mine = or_(_rel.c.mentor_id == member_id, _rel.c.mentee_id == member_id)
        query = select(_rel).where(mine)
        if statuses:
            query = query.where(_rel.c.status.in_([s.value for s in statuses]))
        if after is not None:
            after_at, after_id = after
            query = query.where(or_(_rel.c.updated_at < after_at,
                                    and_(_rel.c.updated_at == after_at, _rel.c.id < after_id)))
        query = query.order_by(_rel.c.updated_at.desc(), _rel.c.id.desc()).limit(limit + 1)
        with self.database.session() as session:
            rows = session.execute(query).all()
            page, more = rows[:limit], len(rows) > limit
            names = self._names(session, {r.mentor_id for r in page} | {r.mentee_id for r in page})
        items = []
        for row in page:
            my_role = Role.MENTOR if row.mentor_id == member_id else Role.MENTEE
            other = row.mentee_id if my_role is Role.MENTOR else row.mentor_id
            status = Status(row.status)
            items.append({
                "id": row.id, "status": status.value, "my_role": my_role.value,
                "counterpart": {"member_id": other, "name": names.get(other, other)},
                "actions": [a.value for a in available_actions(status, my_role,
                                                               i_withdrew=row.withdrawn_by == member_id)],
                "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
            })
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
        self.idempotency.purge()
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
                else:
                    rel.send_reminder(timer.day, now, timer.skipped)  # type: ignore[arg-type]
                    batch.reminders[timer.day] = batch.reminders.get(timer.day, 0) + 1  # type: ignore[index]
                    batch.skipped_reminders += len(timer.skipped)
            uow.commit()
        # Counted only once committed, so a rolled-back batch is not reported.
        report.expired += batch.expired
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
        versions = orm.proposal_versions
        expiring = (select(versions.c.areas)
                    .join(_rel, and_(versions.c.relationship_id == _rel.c.id,
                                     versions.c.version == _rel.c.proposal_version))
                    .where(_rel.c.status == Status.PENDING.value, _rel.c.next_timer_at <= now,
                           _rel.c.cycle_started_at <= now - timedelta(days=EXPIRY_DAYS))
                    .order_by(_rel.c.next_timer_at).limit(batch_size).subquery())
        with self.database.session() as session:
            # Distinct as text: most expiring proposals share a few sets of areas.
            texts = session.execute(select(cast(expiring.c.areas, Text)).distinct()).scalars().all()
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

    def sweep(self) -> SweepReport:
        """The periodic job "relationships.sweep"."""
        report = self.send_due_reminders()
        if report.batches:
            log.info("relationships sweep: %s", report.as_dict())
        return report
