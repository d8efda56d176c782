"""deliveries: no foreign keys to the run and the batch, no index on program_id

Recording a run writes one deliveries row per resident. On PostgreSQL each foreign key
is checked per inserted row (a query and a row lock on the referenced run or batch): the
two on `run_id` and `batch_key` were half the cost of recording a run (docs/benchmarks.md).
The rows they name are written in the same transaction as the deliveries that refer to
them and are never deleted while referred to (a catch-up run is deleted only when empty,
a chunk's batch only when no delivery names it), so the checks guarded nothing the code
does. `ix_deliveries_program_id` served no query (the dashboard reads runs' deliveries by
run, and its yearly figures from snapshots) but cost an index entry per row.
`resident_id` keeps its foreign key: deleting a resident sets it NULL (counts survive).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite the batch copies the table (SQLite cannot drop a constraint in place).
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_deliveries_run_id_campaign_runs", type_="foreignkey")
        batch_op.drop_constraint("fk_deliveries_batch_key_send_batches", type_="foreignkey")
        batch_op.drop_index("ix_deliveries_program_id")


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_program_id", ["program_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_deliveries_batch_key_send_batches",
            "send_batches",
            ["batch_key"],
            ["key"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            "fk_deliveries_run_id_campaign_runs",
            "campaign_runs",
            ["run_id"],
            ["id"],
            ondelete="CASCADE",
        )
