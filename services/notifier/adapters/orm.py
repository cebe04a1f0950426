"""The notifier's tables (prefix `notifier_`)."""

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, String, Table, UniqueConstraint

from connect.db import service_metadata

metadata = service_metadata()

deliveries = Table(
    "notifier_deliveries",
    metadata,
    # One row per (event, recipient) email: claimed before it is handed to the sender, confirmed
    # (sent_at) once the sender accepted it. The guard that makes a redelivered event send
    # nothing twice; an unconfirmed claim marks an email whose fate a crash left unknown.
    Column("event_id", String(36), primary_key=True),
    Column("recipient_id", String(64), primary_key=True),
    Column("message_id", String(300), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("message_id", name="uq_notifier_deliveries_message_id"),
)

members = Table(
    "notifier_members",
    metadata,
    # The recipients directory: a projection of member events (never another service's table).
    Column("member_id", String(64), primary_key=True),
    Column("name", String(300), nullable=True),
    Column("email", String(320), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("erased", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

feed = Table(
    "notifier_feed",
    metadata,
    # One row per (recipient, event) the rules address: the feed says what the email says, once.
    # Names are not stored: they are looked up when the feed is read, so an erased member's name
    # leaves every feed that mentioned them with the directory row.
    Column("recipient_id", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("kind", String(64), nullable=False),  # the rule's template name, e.g. proposal_received
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("relationship_id", String(64), nullable=True),
    Column("counterpart_id", String(64), nullable=True),
    Column("details", JSON, nullable=False),  # other references and the title's values
    Column("read_at", DateTime(timezone=True), nullable=True),
    Index("ix_notifier_feed_page", "recipient_id", "occurred_at", "event_id"),
)

feed_closed = Table(
    "notifier_feed_closed",
    metadata,
    # Members whose account was deleted or erased: no feed entries are written for them again,
    # even when an older event is redelivered after the erasure.
    Column("member_id", String(64), primary_key=True),
    Column("closed_at", DateTime(timezone=True), nullable=False),
)
