"""catch-up notices: campaign_runs.kind, the unique key per kind, catchup_marks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite the batch copies campaign_runs and drops the original: bot.store.migrate
    # turns foreign keys off meanwhile, or the DROP would cascade to the deliveries.
    with op.batch_alter_table("campaign_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="slot", nullable=False)
        )
        batch_op.drop_constraint("uq_campaign_runs_slot", type_="unique")
        batch_op.create_unique_constraint(
            "uq_campaign_runs_slot_kind", ["campaign_id", "slot_at", "kind"]
        )
    op.create_table(
        "catchup_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_catchup_marks_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catchup_marks")),
    )
    with op.batch_alter_table("catchup_marks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catchup_marks_resident_id"), ["resident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("catchup_marks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catchup_marks_resident_id"))
    op.drop_table("catchup_marks")
    # Catch-up runs (and their deliveries, batches) cannot be told apart any more.
    op.execute("DELETE FROM campaign_runs WHERE kind <> 'slot'")
    with op.batch_alter_table("campaign_runs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_campaign_runs_slot_kind", type_="unique")
        batch_op.create_unique_constraint("uq_campaign_runs_slot", ["campaign_id", "slot_at"])
        batch_op.drop_column("kind")
