"""The matching service's tables (prefix `matching_`)."""

from sqlalchemy import Boolean, Column, DateTime, String, Table

from connect.db import service_metadata
from connect.outbox import outbox_table

metadata = service_metadata()

members = Table(
    "matching_members",
    metadata,
    # The member directory: name and email belong to the membership system and
    # are refreshed from token claims; members cannot edit them here.
    Column("member_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata, "matching")
