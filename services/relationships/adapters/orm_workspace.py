"""The workspace's tables: meetings, tools and their versions, messages, nudges,
deleted accounts, support requests.

Declared on the relationships service's own `metadata` (the same database and
outbox as the relationship aggregate); migrations/versions/ws_*.py create
exactly these on the `workspace` Alembic branch.
"""

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, String, Table, Text

from services.relationships.adapters.orm import metadata

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

learning_notes = Table(
    "relationships_learning_notes", metadata,
    # Each party's own note of what they learned in a relationship: private, for their CPD record.
    Column("relationship_id", String(36), primary_key=True),
    Column("member_id", String(64), primary_key=True),
    Column("outcomes", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
