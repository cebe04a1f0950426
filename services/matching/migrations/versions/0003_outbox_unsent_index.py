"""outbox: a partial index on id of the unsent rows instead of one on published_at

Revision ID: matching_0003
Revises: matching_0002
Create Date: 2026-11-28
"""
from alembic import op

from connect.outbox import index_published_at, index_unsent_rows

revision = "matching_0003"
down_revision = "matching_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_unsent_rows(op, "matching")


def downgrade() -> None:
    index_published_at(op, "matching")
