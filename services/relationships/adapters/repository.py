"""The relationships service's unit of work and the repositories it hands out.

One unit of work for every room: `uow.relationships` (the relationship
aggregate and the logs around it), `uow.members` (the member projection),
`uow.workspace` (meetings, tools, messages, nudges, notes) and `uow.accounts`
(deleted accounts, support requests, erasure), all on the one session, so a
change in any room commits with the relationship row it checked and the events
it recorded.  Use cases never write SQL; repositories do.

The relationship repository keeps every aggregate it handed out; at commit the
unit of work writes each one's row and its new log entries (proposal versions,
status changes, reminder outcomes) and the events it recorded into the outbox,
all in one transaction, with one multi-row statement per table so that a sweep
over thousands of proposals stays a handful of round trips.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, and_, bindparam, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from connect.clock import utc
from connect.uow import SqlUnitOfWork
from schemas.events import Envelope, EventData
from services.relationships.adapters import orm
from services.relationships.adapters.account_repository import AccountRepository
from services.relationships.adapters.bulk import insert_rows, update_rows_postgres
from services.relationships.adapters.workspace_repository import WorkspaceRepository
from services.relationships.proposals.domain import (EXPIRY_DAYS, OPEN_STATUSES, ProposalContent, ProposalVersion,
                                                     Relationship, Role, Status)


def _content(row: Any) -> ProposalContent:
    return ProposalContent(message=row.message, areas=tuple(row.areas), goals=row.goals,
                           interaction_modes=tuple(row.interaction_modes), duration_months=row.duration_months)


class RelationshipRepository:
    def __init__(self, session: Session, *, row_locks: bool) -> None:
        self.session = session
        self.row_locks = row_locks  # SELECT ... FOR UPDATE (PostgreSQL); SQLite already holds the write lock
        self._seen: dict[str, Relationship] = {}
        self._new: set[str] = set()
        # Column values as loaded, so an update writes only the columns that changed.
        self._loaded: dict[str, dict[str, Any]] = {}

    # --- reading aggregates ------------------------------------------------------------
    def _select(self):  # type: ignore[no-untyped-def]
        versions = orm.proposal_versions
        return (select(orm.relationships, versions.c.message, versions.c.areas, versions.c.goals,
                       versions.c.interaction_modes, versions.c.duration_months, versions.c.author_id,
                       versions.c.created_at.label("version_at"))
                .join(versions, and_(versions.c.relationship_id == orm.relationships.c.id,
                                     versions.c.version == orm.relationships.c.proposal_version)))

    def _load(self, rows: Sequence[Any]) -> list[Relationship]:
        if not rows:
            return []
        done: dict[str, set[int]] = {row.id: set() for row in rows}
        cycles = {row.id: row.cycle for row in rows}
        for reminder in self.session.execute(
            select(orm.reminders.c.relationship_id, orm.reminders.c.cycle, orm.reminders.c.day)
            .where(orm.reminders.c.relationship_id.in_(list(done)))
        ):
            if reminder.cycle == cycles[reminder.relationship_id]:
                done[reminder.relationship_id].add(reminder.day)
        loaded = []
        for row in rows:
            rel = Relationship(
                id=row.id, mentor_id=row.mentor_id, mentee_id=row.mentee_id, status=Status(row.status),
                proposal=ProposalVersion(row.proposal_version, _content(row), row.author_id, utc(row.version_at)),
                created_at=utc(row.created_at), updated_at=utc(row.updated_at), cycle=row.cycle,
                cycle_started_at=utc(row.cycle_started_at), reminders_done=frozenset(done[row.id]),
                withdrawn_by=row.withdrawn_by, accepted_at=utc(row.accepted_at) if row.accepted_at else None,
                end_notice_at=utc(row.end_notice_at) if row.end_notice_at else None,
            )
            self._seen[rel.id] = rel
            self._loaded[rel.id] = self._row_values(rel)
            loaded.append(rel)
        return loaded

    def get(self, relationship_id: str, *, for_update: bool = True) -> Relationship | None:
        """The aggregate, locked for the rest of the transaction when `for_update`."""
        if relationship_id in self._seen:
            return self._seen[relationship_id]
        query = self._select().where(orm.relationships.c.id == relationship_id)
        if for_update and self.row_locks:
            query = query.with_for_update(of=orm.relationships)
        found = self._load(self.session.execute(query).all())
        return found[0] if found else None

    def due(self, now: datetime, limit: int) -> list[Relationship]:
        """Pending and accepted relationships whose next timer is due, locked; rows another sweep
        holds are skipped."""
        table = orm.relationships
        query = (self._select()
                 .where(table.c.status.in_((Status.PENDING.value, Status.ACCEPTED.value)),
                        table.c.next_timer_at <= now)
                 .order_by(table.c.next_timer_at).limit(limit))
        if self.row_locks:
            query = query.with_for_update(of=table, skip_locked=True)
        return self._load(self.session.execute(query).all())

    def open_between(self, mentor_id: str, mentee_id: str) -> Any | None:
        table = orm.relationships
        return self.session.execute(
            select(table.c.id, table.c.status).where(
                table.c.mentor_id == mentor_id, table.c.mentee_id == mentee_id,
                table.c.status.in_([s.value for s in OPEN_STATUSES]))
        ).first()

    # --- reading rows and logs (the views) --------------------------------------------------
    def row(self, relationship_id: str) -> Any | None:
        return self.session.execute(select(orm.relationships)
                                    .where(orm.relationships.c.id == relationship_id)).first()

    def pair(self, relationship_id: str) -> tuple[str, str]:
        table = orm.relationships
        row = self.session.execute(select(table.c.mentor_id, table.c.mentee_id)
                                   .where(table.c.id == relationship_id)).one()
        return row.mentor_id, row.mentee_id

    def versions(self, relationship_id: str) -> Sequence[Any]:
        versions = orm.proposal_versions
        return self.session.execute(select(versions).where(versions.c.relationship_id == relationship_id)
                                    .order_by(versions.c.version)).all()

    def history(self, relationship_id: str) -> Sequence[Any]:
        history = orm.status_history
        return self.session.execute(select(history).where(history.c.relationship_id == relationship_id)
                                    .order_by(history.c.id)).all()

    def alternatives(self, relationship_id: str) -> Sequence[Any]:
        """The mentors suggested at the relationship's latest expiry, in the order offered."""
        table = orm.alternatives
        latest = select(func.max(table.c.cycle)).where(table.c.relationship_id == relationship_id).scalar_subquery()
        return self.session.execute(select(table).where(table.c.relationship_id == relationship_id,
                                                        table.c.cycle == latest)
                                    .order_by(table.c.position)).all()

    def reminders(self, relationship_id: str) -> Sequence[Any]:
        reminders = orm.reminders
        return self.session.execute(select(reminders).where(reminders.c.relationship_id == relationship_id)
                                    .order_by(reminders.c.cycle, reminders.c.day)).all()

    def page(self, member_id: str, role: Role | None, statuses: Sequence[Status],
             after: tuple[datetime, str] | None, limit: int) -> Sequence[Any]:
        """A member's relationships, newest change first, from after `after` (updated_at, id), each
        with its current proposal's `message`; one row more than `limit` when there are more."""
        table = orm.relationships
        if role is Role.MENTOR:
            mine = table.c.mentor_id == member_id
        elif role is Role.MENTEE:
            mine = table.c.mentee_id == member_id
        else:
            mine = or_(table.c.mentor_id == member_id, table.c.mentee_id == member_id)
        versions = orm.proposal_versions
        query = (select(table, versions.c.message)
                 .join(versions, and_(versions.c.relationship_id == table.c.id,
                                      versions.c.version == table.c.proposal_version))
                 .where(mine))
        if statuses:
            query = query.where(table.c.status.in_([s.value for s in statuses]))
        if after is not None:
            after_at, after_id = after
            query = query.where(or_(table.c.updated_at < after_at,
                                    and_(table.c.updated_at == after_at, table.c.id < after_id)))
        query = query.order_by(table.c.updated_at.desc(), table.c.id.desc()).limit(limit + 1)
        return self.session.execute(query).all()

    def expiring_area_sets(self, now: datetime, limit: int) -> list[str]:
        """The distinct areas (as JSON texts) of the next `limit` proposals due to expire at `now`."""
        table, versions = orm.relationships, orm.proposal_versions
        expiring = (select(versions.c.areas)
                    .join(table, and_(versions.c.relationship_id == table.c.id,
                                      versions.c.version == table.c.proposal_version))
                    .where(table.c.status == Status.PENDING.value, table.c.next_timer_at <= now,
                           table.c.cycle_started_at <= now - timedelta(days=EXPIRY_DAYS))
                    .order_by(table.c.next_timer_at).limit(limit).subquery())
        # Distinct as text: most expiring proposals share a few sets of areas.
        return list(self.session.execute(select(cast(expiring.c.areas, Text)).distinct()).scalars().all())

    def ids_of(self, member_id: str, statuses: tuple[str, ...] | None = None) -> list[str]:
        table = orm.relationships
        query = select(table.c.id).where(or_(table.c.mentor_id == member_id, table.c.mentee_id == member_id))
        if statuses is not None:
            query = query.where(table.c.status.in_(statuses))
        return [row.id for row in self.session.execute(query.order_by(table.c.id))]

    def accepted_at(self, relationship_ids: list[str]) -> dict[str, datetime]:
        """When each of these relationships was (last) accepted; those never accepted are absent."""
        history = orm.status_history
        rows = self.session.execute(select(history.c.relationship_id, history.c.at)
                                    .where(history.c.to_status == Status.ACCEPTED.value,
                                           history.c.relationship_id.in_(relationship_ids))
                                    .order_by(history.c.id))
        return {row.relationship_id: utc(row.at) for row in rows}

    def parties_of(self, relationship_ids: list[str]) -> Sequence[Any]:
        """Many relationships' rows in one query, each with its current proposal's `message` and
        planned `duration_months`: who, status, acceptance, planned end and a list item's summary."""
        if not relationship_ids:
            return []
        table, versions = orm.relationships, orm.proposal_versions
        return self.session.execute(
            select(table, versions.c.message, versions.c.duration_months)
            .join(versions, and_(versions.c.relationship_id == table.c.id,
                                 versions.c.version == table.c.proposal_version))
            .where(table.c.id.in_(relationship_ids))).all()

    # --- writing --------------------------------------------------------------------
    def add(self, rel: Relationship) -> None:
        self._seen[rel.id] = rel
        self._new.add(rel.id)

    def seen(self) -> Iterable[Relationship]:
        return self._seen.values()

    def flush(self) -> None:
        """Write what changed since loading; called by the unit of work before commit (and before
        reading back a view inside the same transaction)."""
        new_rows, updated_rows, versions, changes, reminders, alternatives = [], [], [], [], [], []
        changed_columns: set[str] = set()
        for rel in self._seen.values():
            if not (rel.new_changes or rel.new_versions or rel.new_reminders or rel.id in self._new
                    or self._loaded.get(rel.id, {}).get("end_notice_at") != rel.end_notice_at):
                continue
            values = self._row_values(rel)
            before = self._loaded.get(rel.id, {})
            if rel.id in self._new:
                new_rows.append({"id": rel.id, "mentor_id": rel.mentor_id, "mentee_id": rel.mentee_id,
                                 "created_at": rel.created_at, **values})
            else:
                changed_columns.update(name for name, value in values.items()
                                       if name not in before or before[name] != value)
                updated_rows.append({"b_id": rel.id, **values})
            self._loaded[rel.id] = values
            versions += [{"relationship_id": rel.id, "version": v.number, "message": v.content.message,
                          "areas": list(v.content.areas), "goals": v.content.goals,
                          "interaction_modes": list(v.content.interaction_modes),
                          "duration_months": v.content.duration_months, "author_id": v.author_id,
                          "created_at": v.at} for v in rel.new_versions]
            changes += [{"relationship_id": rel.id, "action": c.action.value,
                         "from_status": c.from_status.value if c.from_status else None,
                         "to_status": c.to_status.value, "actor_id": c.actor_id, "actor_role": c.actor_role.value,
                         "reason": c.reason, "at": c.at} for c in rel.new_changes]
            reminders += [{"relationship_id": rel.id, "cycle": r.cycle, "day": r.day, "sent": r.sent, "at": r.at}
                          for r in rel.new_reminders]
            alternatives += [{"relationship_id": rel.id, "cycle": rel.cycle, "position": position,
                              "member_id": a.member_id, "name": a.name, "headline": a.headline, "why": a.why,
                              "suggested_at": rel.updated_at} for position, a in enumerate(rel.new_alternatives)]
            rel.new_changes, rel.new_versions, rel.new_reminders, rel.new_alternatives = [], [], [], []
        self._new.clear()
        insert_rows(self.session, orm.relationships, new_rows)
        if changed_columns:
            # Only the columns some aggregate changed (a reminder moves next_timer_at, nothing else).
            self._update_rows([{"b_id": row["b_id"], **{name: row[name] for name in sorted(changed_columns)}}
                               for row in updated_rows])
        insert_rows(self.session, orm.proposal_versions, versions)
        insert_rows(self.session, orm.status_history, changes)
        insert_rows(self.session, orm.reminders, reminders)
        insert_rows(self.session, orm.alternatives, alternatives)

    @staticmethod
    def _row_values(rel: Relationship) -> dict[str, Any]:
        return {"status": rel.status.value, "updated_at": rel.updated_at, "accepted_at": rel.accepted_at,
                "withdrawn_by": rel.withdrawn_by, "proposal_version": rel.proposal.number, "cycle": rel.cycle,
                "cycle_started_at": rel.cycle_started_at, "next_timer_at": rel.next_timer_at(),
                "end_notice_at": rel.end_notice_at}

    def _update_rows(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.row_locks and len(rows) > 1:
            update_rows_postgres(self.session, orm.relationships, "id", [{"id": r.pop("b_id"), **r} for r in rows])
            return
        # executemany; the SET clause comes from the parameter names.
        self.session.execute(update(orm.relationships).where(orm.relationships.c.id == bindparam("b_id")), rows)


class MemberRepository:
    """The member projection: what this service knows of members from tokens and from matching's events."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert(self, member_id: str, insert: dict[str, Any], update_values: dict[str, Any], now: datetime) -> None:
        """Insert the member with `insert` over the defaults, or change `update_values` of the known one."""
        if self.session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        defaults = {"name": None, "email": None, "is_mentor": False, "available": False, "active": True,
                    "expertise": None}
        statement = dialect_insert(orm.members).values(member_id=member_id, updated_at=now, **{**defaults, **insert})
        self.session.execute(statement.on_conflict_do_update(index_elements=[orm.members.c.member_id],
                                                             set_={**update_values, "updated_at": now}))

    def get(self, member_id: str) -> Any | None:
        return self.session.execute(select(orm.members).where(orm.members.c.member_id == member_id)).first()

    def names(self, member_ids: set[str]) -> dict[str, str]:
        if not member_ids:
            return {}
        rows = self.session.execute(select(orm.members.c.member_id, orm.members.c.name)
                                    .where(orm.members.c.member_id.in_(sorted(member_ids))))
        return {row.member_id: row.name for row in rows if row.name}

    def listed_mentors(self) -> Sequence[Any]:
        """Mentors who may receive proposals now (a mentor profile, available, active), by id."""
        members = orm.members
        return self.session.execute(select(members.c.member_id, members.c.name, members.c.expertise)
                                    .where(members.c.is_mentor, members.c.available, members.c.active)
                                    .order_by(members.c.member_id)).all()

    def delete(self, member_id: str) -> None:
        self.session.execute(delete(orm.members).where(orm.members.c.member_id == member_id))


class RelationshipsUnitOfWork(SqlUnitOfWork):
    """`with uow:` → the repositories (`uow.relationships`, `uow.members`, `uow.workspace`,
    `uow.accounts`) on `uow.session`; `uow.commit()` writes the aggregates, then every event
    they recorded into the outbox, in the same transaction."""

    relationships: RelationshipRepository
    members: MemberRepository
    workspace: WorkspaceRepository
    accounts: AccountRepository

    def __enter__(self) -> "RelationshipsUnitOfWork":
        super().__enter__()
        self.relationships = RelationshipRepository(self.session, row_locks=self.database.is_postgres)
        self.members = MemberRepository(self.session)
        self.workspace = WorkspaceRepository(self.session)
        self.accounts = AccountRepository(self.session, row_locks=self.database.is_postgres)
        return self

    def record_events_of(self, aggregate: Any) -> None:
        """Record (and clear) what a workspace aggregate (a meeting, a tool) recorded, in order."""
        for event in aggregate.events:
            self.record(event)
        aggregate.events = []

    def collect_new_events(self) -> Iterable[EventData]:
        for rel in self.relationships.seen():
            while rel.events:
                yield rel.events.pop(0)

    def flush(self) -> None:
        self.relationships.flush()
        self.session.flush()

    def commit(self) -> None:
        self.refuse_if_read_only()
        self.relationships.flush()
        now = self.clock.now()
        pending = [(event, None) for event in self.collect_new_events()] + self._events
        # The payloads were validated when the domain built them; constructing the envelope
        # without validating it again is what event.envelope() would produce, minus the cost.
        envelopes = [Envelope.model_construct(event_id=event_id or uuid.uuid4(), type=event.TYPE,
                                              version=event.VERSION, occurred_at=now,
                                              producer=self.outbox.producer, key=event.key(),
                                              data=event.model_dump(mode="json"))
                     for event, event_id in pending]
        # Multi-row inserts instead of Outbox.add per event: the same rows, fewer round trips.
        insert_rows(self.session, self.outbox.table, [
            {"event_id": str(e.event_id), "topic": event.TOPIC, "key": e.key, "type": e.type,
             "payload": e.to_bytes(), "occurred_at": now}
            for (event, _), e in zip(pending, envelopes)])
        self.session.commit()
        self._committed = True
        self._events = []
        self.published = envelopes
        if self.after_commit is not None and envelopes:
            self.after_commit()
