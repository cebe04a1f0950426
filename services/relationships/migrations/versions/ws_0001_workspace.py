"""workspace: meetings, tools and versions, messages, nudges, deleted accounts, support requests

An independent branch (label "workspace") so the workspace and the relationship
aggregate can evolve their schemas separately; it needs the relationships table.

Revision ID: relationships_ws_0001
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "relationships_ws_0001"
down_revision = None
branch_labels = ("workspace",)
depends_on = "relationships_0002"


def upgrade() -> None:
    op.create_table(
        "relationships_meetings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("relationship_id", sa.String(36), nullable=False),
        sa.Column("organiser_id", sa.String(64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("location_or_link", sa.Text, nullable=False),
        sa.Column("agenda", sa.Text, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_relationships_meetings"),
    )
    op.create_index("ix_relationships_meetings_relationship", "relationships_meetings",
                    ["relationship_id", "starts_at"])

    op.create_table(
        "relationships_tools",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("relationship_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_relationships_tools"),
    )
    op.create_index("ix_relationships_tools_relationship", "relationships_tools", ["relationship_id", "kind"])

    op.create_table(
        "relationships_tool_versions",
        sa.Column("tool_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tool_id", "version", name="pk_relationships_tool_versions"),
    )

    op.create_table(
        "relationships_messages",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("relationship_id", sa.String(36), nullable=False),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("recipient_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emailed", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_relationships_messages"),
    )
    op.create_index("ix_relationships_messages_relationship", "relationships_messages",
                    ["relationship_id", "sent_at", "id"])
    op.create_index("ix_relationships_messages_unread", "relationships_messages", ["recipient_id", "read_at"])

    op.create_table(
        "relationships_nudges",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("relationship_id", sa.String(36), nullable=False),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("recipient_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_relationships_nudges"),
    )
    op.create_index("ix_relationships_nudges_relationship_id", "relationships_nudges", ["relationship_id"])

    op.create_table(
        "relationships_deleted_accounts",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("member_id", name="pk_relationships_deleted_accounts"),
    )

    op.create_table(
        "relationships_support_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("relationship_id", sa.String(36), nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("resolution_note", sa.Text, nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_relationships_support_requests"),
    )
    op.create_index("ix_relationships_support_requests_member_id", "relationships_support_requests", ["member_id"])
    op.create_index("ix_relationships_support_requests_status", "relationships_support_requests",
                    ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_relationships_support_requests_status", "relationships_support_requests")
    op.drop_index("ix_relationships_support_requests_member_id", "relationships_support_requests")
    op.drop_table("relationships_support_requests")
    op.drop_table("relationships_deleted_accounts")
    op.drop_index("ix_relationships_nudges_relationship_id", "relationships_nudges")
    op.drop_table("relationships_nudges")
    op.drop_index("ix_relationships_messages_unread", "relationships_messages")
    op.drop_index("ix_relationships_messages_relationship", "relationships_messages")
    op.drop_table("relationships_messages")
    op.drop_table("relationships_tool_versions")
    op.drop_index("ix_relationships_tools_relationship", "relationships_tools")
    op.drop_table("relationships_tools")
    op.drop_index("ix_relationships_meetings_relationship", "relationships_meetings")
    op.drop_table("relationships_meetings")
