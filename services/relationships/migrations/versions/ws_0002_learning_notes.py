"""workspace: each party's private learning outcomes per relationship (for the CPD record)

Revision ID: relationships_ws_0002
Revises: relationships_ws_0001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "relationships_ws_0002"
down_revision = "relationships_ws_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relationships_learning_notes",
        sa.Column("relationship_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("outcomes", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("relationship_id", "member_id", name="pk_relationships_learning_notes"),
    )


def downgrade() -> None:
    op.drop_table("relationships_learning_notes")
