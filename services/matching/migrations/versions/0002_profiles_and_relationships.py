"""mentor and mentee profiles; projection of relationships

Revision ID: matching_0002
Revises: matching_0001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "matching_0002"
down_revision = "matching_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "matching_mentor_profiles",
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("available", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_matching_mentor_profiles_changed_at", "matching_mentor_profiles", ["changed_at"])
    op.create_table(
        "matching_mentee_profiles",
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "matching_relationships",
        sa.Column("relationship_id", sa.String(64), primary_key=True),
        sa.Column("mentor_id", sa.String(64), nullable=False),
        sa.Column("mentee_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_matching_relationships_mentor_status", "matching_relationships", ["mentor_id", "status"])
    op.create_index("ix_matching_relationships_mentee_id", "matching_relationships", ["mentee_id"])


def downgrade() -> None:
    op.drop_index("ix_matching_relationships_mentee_id", "matching_relationships")
    op.drop_index("ix_matching_relationships_mentor_status", "matching_relationships")
    op.drop_table("matching_relationships")
    op.drop_table("matching_mentee_profiles")
    op.drop_index("ix_matching_mentor_profiles_changed_at", "matching_mentor_profiles")
    op.drop_table("matching_mentor_profiles")
