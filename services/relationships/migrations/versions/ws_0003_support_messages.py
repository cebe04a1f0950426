"""account: the messages the customer service team sent a partner for a contact_partner request

Revision ID: relationships_ws_0003
Revises: relationships_ws_0002
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "relationships_ws_0003"
down_revision = "relationships_ws_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relationships_support_messages",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("recipient_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_relationships_support_messages"),
    )
    op.create_index("ix_relationships_support_messages_request", "relationships_support_messages",
                    ["request_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_relationships_support_messages_request", "relationships_support_messages")
    op.drop_table("relationships_support_messages")
