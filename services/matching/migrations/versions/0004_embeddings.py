"""embeddings: vectors of profile passages, by model and text hash

Revision ID: matching_0004
Revises: matching_0003
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "matching_0004"
down_revision = "matching_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "matching_embeddings",
        sa.Column("model", sa.String(80), primary_key=True),
        sa.Column("text_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("matching_embeddings")
