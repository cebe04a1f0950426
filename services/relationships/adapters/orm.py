"""The relationships service's tables (prefix `relationships_`).

Declared once here; migrations/versions create exactly these.  Timestamps are
stored as UTC (SQLite hands them back naive: `connect.clock.utc` fixes that).
"""

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, Index, Integer, String, Table, Text,
                        UniqueConstraint, text)

from connect.db import service_metadata
from connect.outbox import outbox_table

metadata = service_metadata()

outbox = outbox_table(metadata, "relationships")

#: SQL text of the open statuses, for the partial unique index (same on SQLite and PostgreSQL).
OPEN_STATUS_SQL = "status in ('pending', 'accepted')"

relationships = Table(
    "relationships_relationships", metadata,
    Column("id", String(36), primary_key=True),
    Column("mentor_id", String(64), nullable=False),
    Column("mentee_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=True),
    Column("withdrawn_by", String(64), nullable=True),
    Column("proposal_version", Integer, nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("cycle_started_at", DateTime(timezone=True), nullable=False),
    # When the sweep next has work here; NULL once the proposal is answered.
    Column("next_timer_at", DateTime(timezone=True), nullable=True),
)
# The sweep's query: status = 'pending' and next_timer_at <= now, oldest first.
Index("ix_relationships_relationships_status_next_timer_at", relationships.c.status, relationships.c.next_timer_at)
# Listing "my relationships" from either side, newest first (cursor = updated_at, id).
Index("ix_relationships_relationships_mentor", relationships.c.mentor_id, relationships.c.updated_at,
      relationships.c.id)
Index("ix_relationships_relationships_mentee", relationships.c.mentee_id, relationships.c.updated_at,
      relationships.c.id)
# One open relationship per pair, enforced by the database whatever the race.
Index("uq_relationships_relationships_open_pair", relationships.c.mentor_id, relationships.c.mentee_id,
      unique=True, sqlite_where=text(OPEN_STATUS_SQL), postgresql_where=text(OPEN_STATUS_SQL))

proposal_versions = Table(
    "relationships_proposal_versions", metadata,
    Column("relationship_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("message", Text, nullable=False),
    Column("areas", JSON, nullable=False),
    Column("goals", Text, nullable=False),
    Column("interaction_modes", JSON, nullable=False),
    Column("duration_months", Integer, nullable=False),
    Column("author_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

status_history = Table(
    "relationships_status_history", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("relationship_id", String(36), nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("actor_id", String(64), nullable=True),
    Column("actor_role", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

reminders = Table(
    "relationships_reminders", metadata,
    Column("relationship_id", String(36), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("day", Integer, nullable=False),
    Column("sent", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # Exactly once per reminder of a cycle, even with two sweeps racing.
    UniqueConstraint("relationship_id", "cycle", "day", name="uq_relationships_reminders_slot"),
)

members = Table(
    "relationships_members", metadata,
    Column("member_id", String(64), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("email", String(320), nullable=True),
    Column("is_mentor", Boolean, nullable=False, default=False),
    Column("available", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("expertise", JSON, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "relationships_idempotency_keys", metadata,
    Column("member_id", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    # 'in_flight' while the first request runs, then 'done' with the response to replay.
    Column("state", String(16), nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("response_body", JSON, nullable=True),
    Column("response_headers", JSON, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

from services.relationships.adapters import orm_workspace  # noqa: F401,E402  (registers the workspace tables)
