"""notification feed: what each member was told, for the portal to show and mark as read

Revision ID: notifier_0004
Revises: notifier_0003
Create Date: 2026-11-29

New tables only: the feed starts with the events consumed after the upgrade.
"""
import sqlalchemy as sa
from alembic import op

revision = "notifier_0004"
down_revision = "notifier_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_feed",
        sa.Column("recipient_id", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("relationship_id", sa.String(64), nullable=True),
        sa.Column("counterpart_id", sa.String(64), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_notifier_feed_page", "notifier_feed", ["recipient_id", "occurred_at", "event_id"])
    op.create_table(
        "notifier_feed_closed",
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notifier_feed_closed")
    op.drop_index("ix_notifier_feed_page", table_name="notifier_feed")
    op.drop_table("notifier_feed")
