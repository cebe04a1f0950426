"""The relationships service's tables (prefix `relationships_`), every room's, on one metadata.

Declared once here; migrations/versions create exactly these: the proposals'
tables on the main Alembic branch, the workspace's and the account's
(`ws_*.py`) on the `workspace` branch.  Timestamps are stored as UTC (SQLite
hands them back naive: `connect.clock.utc` fixes that).
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
    # When the sweep next has work here: a reminder or the expiry of a pending proposal, the
    # planned-end notice or the planned end of an accepted relationship; NULL otherwise.
    Column("next_timer_at", DateTime(timezone=True), nullable=True),
    # When both parties were told the planned end is near (NULL: not yet in this acceptance).
    Column("end_notice_at", DateTime(timezone=True), nullable=True),
)
# The sweep's query: status in ('pending', 'accepted') and next_timer_at <= now, oldest first.
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

# The mentors suggested to a mentee when their proposal expired (at most three per expiry),
# shown in the relationship's details; `why` says what made each one a suggestion.
alternatives = Table(
    "relationships_alternatives", metadata,
    Column("relationship_id", String(36), primary_key=True),
    Column("cycle", Integer, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("member_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("headline", Text, nullable=False),
    Column("why", Text, nullable=False),
    Column("suggested_at", DateTime(timezone=True), nullable=False),
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

# --- the workspace: meetings, tools and their versions, messages, nudges, learning notes ---

meetings = Table(
    "relationships_meetings", metadata,
    Column("id", String(36), primary_key=True),
    Column("relationship_id", String(36), nullable=False),
    Column("organiser_id", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("location_or_link", Text, nullable=False),
    Column("agenda", Text, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
# A relationship's meetings in time order; also "the next meeting" for the dashboard.
Index("ix_relationships_meetings_relationship", meetings.c.relationship_id, meetings.c.starts_at)

tools = Table(
    "relationships_tools", metadata,
    Column("id", String(36), primary_key=True),
    Column("relationship_id", String(36), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_relationships_tools_relationship", tools.c.relationship_id, tools.c.kind)

tool_versions = Table(
    "relationships_tool_versions", metadata,
    Column("tool_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content", JSON, nullable=False),
    Column("author_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

messages = Table(
    "relationships_messages", metadata,
    Column("id", String(36), primary_key=True),
    Column("relationship_id", String(36), nullable=False),
    Column("sender_id", String(64), nullable=False),
    Column("recipient_id", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=True),
    # This message's event asked the notifier for an email (the throttle's memory).
    Column("emailed", Boolean, nullable=False),
)
# Paging a conversation newest first (cursor = sent_at, id).
Index("ix_relationships_messages_relationship", messages.c.relationship_id, messages.c.sent_at, messages.c.id)
# Unread counts and the email throttle: what a recipient has not read yet.
Index("ix_relationships_messages_unread", messages.c.recipient_id, messages.c.read_at)

nudges = Table(
    "relationships_nudges", metadata,
    Column("id", String(36), primary_key=True),
    Column("relationship_id", String(36), nullable=False, index=True),
    Column("sender_id", String(64), nullable=False),
    Column("recipient_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

learning_notes = Table(
    "relationships_learning_notes", metadata,
    # Each party's own note of what they learned in a relationship: private, for their CPD record.
    Column("relationship_id", String(36), primary_key=True),
    Column("member_id", String(64), primary_key=True),
    Column("outcomes", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# --- the account: deleted accounts, support requests ------------------------------------

deleted_accounts = Table(
    "relationships_deleted_accounts", metadata,
    Column("member_id", String(64), primary_key=True),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=True),
)

support_requests = Table(
    "relationships_support_requests", metadata,
    Column("id", String(36), primary_key=True),
    Column("member_id", String(64), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("relationship_id", String(36), nullable=True),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("resolution_note", Text, nullable=True),
    Column("resolved_by", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
)
Index("ix_relationships_support_requests_status", support_requests.c.status, support_requests.c.created_at)

support_messages = Table(
    "relationships_support_messages", metadata,
    # What the customer service team wrote to a member's partner for a contact_partner request.
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False),
    Column("author_id", String(64), nullable=False),
    Column("recipient_id", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)
Index("ix_relationships_support_messages_request", support_messages.c.request_id, support_messages.c.sent_at)
