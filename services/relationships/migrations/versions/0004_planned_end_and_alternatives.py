"""relationships: the planned-end timers (end_notice_at, next_timer_at of accepted ones) and
the alternatives suggested when a proposal expired

Revision ID: relationships_0004
Revises: relationships_0003
Create Date: 2026-11-29
"""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op
from dateutil.relativedelta import relativedelta

revision = "relationships_0004"
down_revision = "relationships_0003"
branch_labels = None
depends_on = None

#: As in proposals/domain.py at this revision (a migration keeps its own copy of the rule).
END_NOTICE_DAYS = 14


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def upgrade() -> None:
    op.add_column("relationships_relationships", sa.Column("end_notice_at", sa.DateTime(timezone=True),
                                                           nullable=True))
    op.create_table(
        "relationships_alternatives",
        sa.Column("relationship_id", sa.String(36), nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("headline", sa.Text, nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("suggested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("relationship_id", "cycle", "position"),
    )
    # Accepted relationships had no timer; give each its next one (the notice 14 days before the
    # planned end, which a sweep past that day turns into the completion).  Months vary in
    # length, so the planned end is computed here rather than in SQL.
    bind = op.get_bind()
    relationships = sa.table("relationships_relationships", sa.column("id", sa.String),
                             sa.column("status", sa.String), sa.column("proposal_version", sa.Integer),
                             sa.column("accepted_at", sa.DateTime(timezone=True)),
                             sa.column("next_timer_at", sa.DateTime(timezone=True)))
    versions = sa.table("relationships_proposal_versions", sa.column("relationship_id", sa.String),
                        sa.column("version", sa.Integer), sa.column("duration_months", sa.Integer))
    rows = bind.execute(
        sa.select(relationships.c.id, relationships.c.accepted_at, versions.c.duration_months)
        .join(versions, sa.and_(versions.c.relationship_id == relationships.c.id,
                                versions.c.version == relationships.c.proposal_version))
        .where(relationships.c.status == "accepted", relationships.c.accepted_at.isnot(None))).all()
    for row in rows:
        planned_end = _aware(row.accepted_at) + relativedelta(months=row.duration_months)
        bind.execute(relationships.update().where(relationships.c.id == row.id)
                     .values(next_timer_at=planned_end - timedelta(days=END_NOTICE_DAYS)))


def downgrade() -> None:
    op.execute("UPDATE relationships_relationships SET next_timer_at = NULL WHERE status = 'accepted'")
    op.drop_table("relationships_alternatives")
    with op.batch_alter_table("relationships_relationships") as batch:
        batch.drop_column("end_notice_at")
