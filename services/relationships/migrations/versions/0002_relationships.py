"""relationships, proposal versions, status history, reminders, member projection, idempotency keys

Revision ID: relationships_0002
Revises: relationships_0001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "relationships_0002"
down_revision = "relationships_0001"
branch_labels = None
depends_on = None

OPEN_STATUS_SQL = "status in ('pending', 'accepted')"


def upgrade() -> None:
    op.create_table(
        "relationships_relationships",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("mentor_id", sa.String(64), nullable=False),
        sa.Column("mentee_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(64), nullable=True),
        sa.Column("proposal_version", sa.Integer, nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("cycle_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_timer_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_relationships_relationships"),
    )
    op.create_index("ix_relationships_relationships_status_next_timer_at", "relationships_relationships",
                    ["status", "next_timer_at"])
    op.create_index("ix_relationships_relationships_mentor", "relationships_relationships",
                    ["mentor_id", "updated_at", "id"])
    op.create_index("ix_relationships_relationships_mentee", "relationships_relationships",
                    ["mentee_id", "updated_at", "id"])
    op.create_index("uq_relationships_relationships_open_pair", "relationships_relationships",
                    ["mentor_id", "mentee_id"], unique=True,
                    sqlite_where=sa.text(OPEN_STATUS_SQL), postgresql_where=sa.text(OPEN_STATUS_SQL))

    op.create_table(
        "relationships_proposal_versions",
        sa.Column("relationship_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("areas", sa.JSON, nullable=False),
        sa.Column("goals", sa.Text, nullable=False),
        sa.Column("interaction_modes", sa.JSON, nullable=False),
        sa.Column("duration_months", sa.Integer, nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("relationship_id", "version", name="pk_relationships_proposal_versions"),
    )

    op.create_table(
        "relationships_status_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("relationship_id", sa.String(36), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=True),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_relationships_status_history_relationship_id", "relationships_status_history",
                    ["relationship_id"])

    op.create_table(
        "relationships_reminders",
        sa.Column("relationship_id", sa.String(36), nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("sent", sa.Boolean, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("relationship_id", "cycle", "day", name="uq_relationships_reminders_slot"),
    )

    op.create_table(
        "relationships_members",
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("is_mentor", sa.Boolean, nullable=False),
        sa.Column("available", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("expertise", sa.JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "relationships_idempotency_keys",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("response_body", sa.JSON, nullable=True),
        sa.Column("response_headers", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "key", name="pk_relationships_idempotency_keys"),
    )
    op.create_index("ix_relationships_idempotency_keys_created_at", "relationships_idempotency_keys",
                    ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_relationships_idempotency_keys_created_at", "relationships_idempotency_keys")
    op.drop_table("relationships_idempotency_keys")
    op.drop_table("relationships_members")
    op.drop_table("relationships_reminders")
    op.drop_index("ix_relationships_status_history_relationship_id", "relationships_status_history")
    op.drop_table("relationships_status_history")
    op.drop_table("relationships_proposal_versions")
    for name in ("uq_relationships_relationships_open_pair", "ix_relationships_relationships_mentee",
                 "ix_relationships_relationships_mentor", "ix_relationships_relationships_status_next_timer_at"):
        op.drop_index(name, "relationships_relationships")
    op.drop_table("relationships_relationships")
