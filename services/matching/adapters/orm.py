"""The matching service's tables (prefix `matching_`)."""

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, LargeBinary, String, Table

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

mentor_profiles = Table(
    "matching_mentor_profiles",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("profile", JSON, nullable=False),
    Column("available", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Last change to anything the index holds for this mentor (profile, availability,
    # name, activity, load): a rebuild catches up on rows changed after it started.
    Column("changed_at", DateTime(timezone=True), nullable=False, index=True),
)

mentee_profiles = Table(
    "matching_mentee_profiles",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("profile", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

relationships = Table(
    "matching_relationships",
    metadata,
    # A projection of the relationships service's events: who is already talking to
    # whom (flagged in search) and how loaded a mentor is (the ranking nudge).
    Column("relationship_id", String(64), primary_key=True),
    Column("mentor_id", String(64), nullable=False),
    Column("mentee_id", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("proposed_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_matching_relationships_mentor_status", "mentor_id", "status"),
    Index("ix_matching_relationships_mentee_id", "mentee_id"),
)

embeddings = Table(
    "matching_embeddings",
    metadata,
    # Vectors of profile passages (domain/meaning.py), by model and the sha256 of the text: a
    # reindex embeds only texts it has not seen, and search explanations read the page's
    # passages from here.  Derived data: `reindex` drops rows no listed profile uses.
    Column("model", String(80), primary_key=True),
    Column("text_hash", LargeBinary(32), primary_key=True),
    Column("vector", LargeBinary, nullable=False),  # int8, meaning.quantise
    Column("created_at", DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata, "matching")
