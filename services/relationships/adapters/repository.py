"""Loading and storing relationship aggregates, and the unit of work that owns them.

The repository keeps every aggregate it handed out; at commit the unit of
work writes each one's row and its new log entries (proposal versions, status
changes, reminder outcomes) and the events it recorded into the outbox, all in
one transaction, with one multi-row statement per table so that a sweep over
thousands of proposals stays a handful of round trips.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Table, and_, bindparam, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from connect.clock import utc
from connect.uow import SqlUnitOfWork
from schemas.events import Envelope, EventData
from services.relationships.adapters import orm
from services.relationships.proposals.domain import (OPEN_STATUSES, ProposalContent, ProposalVersion, Relationship,
                                                 Status)

_rel = orm.relationships
_ver = orm.proposal_versions


def _aware(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


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

    # --- reading --------------------------------------------------------------------
    def _select(self):  # type: ignore[no-untyped-def]
        return (select(_rel, _ver.c.message, _ver.c.areas, _ver.c.goals, _ver.c.interaction_modes,
                       _ver.c.duration_months, _ver.c.author_id, _ver.c.created_at.label("version_at"))
                .join(_ver, and_(_ver.c.relationship_id == _rel.c.id, _ver.c.version == _rel.c.proposal_version)))

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
                withdrawn_by=row.withdrawn_by, accepted_at=_aware(row.accepted_at),
            )
            self._seen[rel.id] = rel
            self._loaded[rel.id] = self._row_values(rel)
            loaded.append(rel)
        return loaded

    def get(self, relationship_id: str, *, for_update: bool = True) -> Relationship | None:
        """The aggregate, locked for the rest of the transaction when `for_update`."""
        if relationship_id in self._seen:
            return self._seen[relationship_id]
        query = self._select().where(_rel.c.id == relationship_id)
        if for_update and self.row_locks:
            query = query.with_for_update(of=_rel)
        found = self._load(self.session.execute(query).all())
        return found[0] if found else None

    def due(self, now: datetime, limit: int) -> list[Relationship]:
        """Pending relationships whose next timer is due, locked; rows another sweep holds are skipped."""
        query = (self._select()
                 .where(_rel.c.status == Status.PENDING.value, _rel.c.next_timer_at <= now)
                 .order_by(_rel.c.next_timer_at).limit(limit))
        if self.row_locks:
            query = query.with_for_update(of=_rel, skip_locked=True)
        return self._load(self.session.execute(query).all())

    def open_between(self, mentor_id: str, mentee_id: str) -> Any | None:
        return self.session.execute(
            select(_rel.c.id, _rel.c.status).where(
                _rel.c.mentor_id == mentor_id, _rel.c.mentee_id == mentee_id,
                _rel.c.status.in_([s.value for s in OPEN_STATUSES]))
        ).first()

    # --- writing --------------------------------------------------------------------
    def add(self, rel: Relationship) -> None:
        self._seen[rel.id] = rel
        self._new.add(rel.id)

    def seen(self) -> Iterable[Relationship]:
        return self._seen.values()

    def flush(self) -> None:
        """Write what changed since loading; called by the unit of work before commit (and before
        reading back a view inside the same transaction)."""
        new_rows, updated_rows, versions, changes, reminders = [], [], [], [], []
        changed_columns: set[str] = set()
        for rel in self._seen.values():
            if not (rel.new_changes or rel.new_versions or rel.new_reminders or rel.id in self._new):
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
            rel.new_changes, rel.new_versions, rel.new_reminders = [], [], []
        self._new.clear()
        insert_rows(self.session, _rel, new_rows)
        if changed_columns:
            # Only the columns some aggregate changed (a reminder moves next_timer_at, nothing else).
            self._update_rows([{"b_id": row["b_id"], **{name: row[name] for name in sorted(changed_columns)}}
                               for row in updated_rows])
        insert_rows(self.session, _ver, versions)
        insert_rows(self.session, orm.status_history, changes)
        insert_rows(self.session, orm.reminders, reminders)

    @staticmethod
    def _row_values(rel: Relationship) -> dict[str, Any]:
        return {"status": rel.status.value, "updated_at": rel.updated_at, "accepted_at": rel.accepted_at,
                "withdrawn_by": rel.withdrawn_by, "proposal_version": rel.proposal.number, "cycle": rel.cycle,
                "cycle_started_at": rel.cycle_started_at, "next_timer_at": rel.next_timer_at()}

    def _update_rows(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.row_locks and len(rows) > 1:
            update_rows_postgres(self.session, _rel, "id", [{"id": r.pop("b_id"), **r} for r in rows])
            return
        # executemany; the SET clause comes from the parameter names.
        self.session.execute(update(_rel).where(_rel.c.id == bindparam("b_id")), rows)


# PostgreSQL bulk paths: one statement with one array parameter per column, whatever the
# row count (a sweep batch is a few statements, not thousands of round trips).  SQLite runs
# in-process, where executemany costs no round trips, so it keeps the portable path.

def _pg_arrays(table: Table, rows: list[dict[str, Any]]) -> tuple[list[str], list[str], list[list[Any]]]:
    names = list(rows[0])
    casts, arrays = [], []
    for name in names:
        column_type = table.c[name].type
        data = [row[name] for row in rows]
        if isinstance(column_type, JSON):
            data = [json.dumps(value) if value is not None else None for value in data]
        casts.append(f"CAST(%b AS {column_type.compile(dialect=postgresql.dialect())}[])")
        arrays.append(data)
    return names, casts, arrays


def _execute_binary(session: Session, sql: str, params: list[Any]) -> None:
    # Straight to psycopg with binary parameters: arrays of thousands of values (payloads
    # above all) are sent as they are instead of being escaped into text one by one.
    # Same connection, so the same transaction as everything else in the unit of work.
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(sql, params)


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql" or len(rows) == 1:
        session.execute(table.insert(), rows)
        return
    names, casts, arrays = _pg_arrays(table, rows)
    _execute_binary(session, f"INSERT INTO {table.name} ({', '.join(names)}) "
                             f"SELECT * FROM unnest({', '.join(casts)})", arrays)


def update_rows_postgres(session: Session, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    names, casts, arrays = _pg_arrays(table, rows)
    assignments = ", ".join(f"{name} = changed.{name}" for name in names if name != key)
    _execute_binary(session, f"UPDATE {table.name} SET {assignments} FROM unnest({', '.join(casts)}) "
                             f"AS changed({', '.join(names)}) WHERE {table.name}.{key} = changed.{key}", arrays)


class RelationshipsUnitOfWork(SqlUnitOfWork):
    """`with uow:` → `uow.relationships` (repository) and `uow.session`; `uow.commit()` writes the
    aggregates, then every event they recorded into the outbox, in the same transaction."""

    relationships: RelationshipRepository

    def __enter__(self) -> "RelationshipsUnitOfWork":
        super().__enter__()
        self.relationships = RelationshipRepository(self.session, row_locks=self.database.is_postgres)
        return self

    def collect_new_events(self) -> Iterable[EventData]:
        for rel in self.relationships.seen():
            while rel.events:
                yield rel.events.pop(0)

    def flush(self) -> None:
        self.relationships.flush()
        self.session.flush()

    def commit(self) -> None:
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
