"""member directory and outbox

Revision ID: matching_0001
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

from connect.outbox import create_outbox_table

revision = "matching_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "matching_members",
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_outbox_table(op, "matching")


def downgrade() -> None:
    op.drop_index("ix_matching_outbox_published_at", "matching_outbox")
    op.drop_table("matching_outbox")
    op.drop_table("matching_members")
