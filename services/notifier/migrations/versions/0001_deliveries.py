"""deliveries

Revision ID: notifier_0001
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "notifier_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_deliveries",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("recipient_id", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("message_id", name="uq_notifier_deliveries_message_id"),
    )


def downgrade() -> None:
    op.drop_table("notifier_deliveries")
