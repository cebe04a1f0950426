"""The notifier's tables (prefix `notifier_`)."""

from sqlalchemy import Boolean, Column, DateTime, String, Table, UniqueConstraint

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
