"""deliveries: no foreign keys to the run and the batch; partial indexes instead of whole ones

Recording a run writes one deliveries row per resident. On PostgreSQL each foreign key
is checked per inserted row (a query and a row lock on the referenced run or batch): the
two on `run_id` and `batch_key` were half the cost of recording a run (docs/benchmarks.md).
The rows they name are written in the same transaction as the deliveries that refer to
them and are never deleted while referred to (a catch-up run is deleted only when empty,
a chunk's batch only when no delivery names it), so the checks guarded nothing the code
does. `ix_deliveries_program_id` served no query (the dashboard reads runs' deliveries by
run, and its yearly figures from snapshots) but cost an index entry per row.
`resident_id` keeps its foreign key: deleting a resident sets it NULL (counts survive).

`ix_deliveries_status` gave an index entry to every row, moved again when the row was
settled: almost every row is written `sending` and settled `sent`, and nothing looks rows
up by those. The rows looked up — a run's rows not yet in a batch, the deferred rows by
when they are due — get partial indexes whose WHERE does not name `status`, so that on
PostgreSQL settling a row changes no indexed column and can be done in place (HOT); the
table's pages are written half full (fillfactor 50) to leave the room for it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
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
        batch_op.drop_index("ix_deliveries_status")
        batch_op.create_index(
            "ix_deliveries_unbatched",
            ["run_id", "id"],
            sqlite_where=sa.text("batch_key IS NULL"),
            postgresql_where=sa.text("batch_key IS NULL"),
        )
        batch_op.create_index(
            "ix_deliveries_deferred",
            ["defer_until"],
            sqlite_where=sa.text("defer_until IS NOT NULL"),
            postgresql_where=sa.text("defer_until IS NOT NULL"),
        )
    if op.get_bind().dialect.name == "postgresql":
        # Only pages written from now on; existing rows are settled already.
        op.execute("ALTER TABLE deliveries SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries RESET (fillfactor)")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_deferred")
        batch_op.drop_index("ix_deliveries_unbatched")
        batch_op.create_index("ix_deliveries_status", ["status"], unique=False)
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
