"""deliveries.resident_id: set NULL by a trigger on residents, not by a foreign key

Recording a run inserts one deliveries row per resident, and PostgreSQL checked each row's
foreign key to `residents` as it was inserted (a query and a row lock on the resident):
recording 100,000 deliveries took ~2.5 s with the key and ~1.3 s without it on the
benchmark machine (docs/benchmarks.md); on SQLite ~15 % of the insert. The key guarded one
thing the code needs: deleting a resident (「削除する」, the purge of unfollowed accounts, a
family profile, its account's cascade) sets their deliveries' `resident_id` to NULL, so
the counts survive and the person does not.

A trigger on `residents` now does that, for every way a row is deleted (the cascade to a
family profile included, by hand in psql too). The rows the recorders insert name residents
their INSERT … SELECT has just read; on PostgreSQL (READ COMMITTED) a deletion committed
while a chunk is being written would not see the chunk's rows, which would then name a
resident who no longer exists. So before deleting anything the trigger takes, exclusively,
the transaction lock the recorders share while they write deliveries
(`bot.store.queries.hold_residents`): a deletion waits for the chunk being written (a
fraction of a second), and a chunk waits for a deletion in progress, whose resident it then
no longer sees. SQLite has one writer, and a recorder writes from its first statement on.

For later migrations on SQLite: a batch_alter_table of `deliveries` (a copy, a DROP and a
RENAME) fails while the trigger names the table ("error in trigger residents_deleted"),
and one of `residents` drops the trigger with the old table. Drop the trigger before
such a batch and create it again after, as downgrade() here does; the tests of deleting
residents (tests/store/test_outbox_queries.py) fail if it is missing at the head.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# bot.store.queries.RESIDENTS_LOCK, as a migration stays as it was written.
RESIDENTS_LOCK = "todoku:residents-named-in-deliveries"

# OR REPLACE: dropping the tables (a test's or a benchmark's fresh schema) drops the
# triggers but leaves the functions.
PG_STATEMENTS = (
    f"""
CREATE OR REPLACE FUNCTION todoku_residents_deleting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Until this transaction ends: no chunk of deliveries is written meanwhile.
    PERFORM pg_advisory_xact_lock(hashtext('{RESIDENTS_LOCK}'));
    RETURN NULL;
END $$
""",
    """
CREATE OR REPLACE FUNCTION todoku_residents_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deliveries SET resident_id = NULL WHERE resident_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$
""",
    """
CREATE TRIGGER residents_deleting BEFORE DELETE ON residents
    FOR EACH STATEMENT EXECUTE FUNCTION todoku_residents_deleting()
""",
    """
CREATE TRIGGER residents_deleted AFTER DELETE ON residents
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION todoku_residents_deleted()
""",
)

SQLITE_TRIGGER = """
CREATE TRIGGER residents_deleted AFTER DELETE ON residents FOR EACH ROW
BEGIN
    UPDATE deliveries SET resident_id = NULL WHERE resident_id = OLD.id;
END
"""


def upgrade() -> None:
    # On SQLite the batch copies the table (SQLite cannot drop a constraint in place).
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_deliveries_resident_id_residents", type_="foreignkey")
    bind = op.get_bind()
    # As the driver's SQL: the lock's name has a colon, which text() takes for a parameter.
    for statement in PG_STATEMENTS if bind.dialect.name == "postgresql" else (SQLITE_TRIGGER,):
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER residents_deleted ON residents")
        op.execute("DROP TRIGGER residents_deleting ON residents")
        op.execute("DROP FUNCTION todoku_residents_deleted()")
        op.execute("DROP FUNCTION todoku_residents_deleting()")
    else:
        op.execute("DROP TRIGGER residents_deleted")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_deliveries_resident_id_residents",
            "residents",
            ["resident_id"],
            ["id"],
            ondelete="SET NULL",
        )
