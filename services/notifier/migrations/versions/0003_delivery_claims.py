"""delivery claims: a ledger row is written before the email is sent, confirmed after

Revision ID: notifier_0003
Revises: notifier_0002
Create Date: 2026-11-29

Every existing row was written after the mail server accepted its email: it keeps meaning
"sent", and claimed_at takes its sent_at.
"""
import sqlalchemy as sa
from alembic import op

revision = "notifier_0003"
down_revision = "notifier_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifier_deliveries", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE notifier_deliveries SET claimed_at = sent_at")
    # SQLite cannot alter a column in place: batch mode copies the table there, alters in place elsewhere.
    with op.batch_alter_table("notifier_deliveries") as batch:
        batch.alter_column("claimed_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("sent_at", existing_type=sa.DateTime(timezone=True), nullable=True)


def downgrade() -> None:
    # Claims that were never confirmed cannot be told apart from sent emails without the column.
    op.execute("DELETE FROM notifier_deliveries WHERE sent_at IS NULL")
    with op.batch_alter_table("notifier_deliveries") as batch:
        batch.alter_column("sent_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_column("claimed_at")
