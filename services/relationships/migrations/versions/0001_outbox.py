"""outbox

Revision ID: relationships_0001
Revises:
Create Date: 2026-11-28
"""
from alembic import op

from connect.outbox import create_outbox_table

revision = "relationships_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_table(op, "relationships")


def downgrade() -> None:
    op.drop_index("ix_relationships_outbox_published_at", "relationships_outbox")
    op.drop_table("relationships_outbox")
