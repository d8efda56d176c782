"""residents: family profiles (代理受信) — guardian_id, label, line_user_id nullable;
send_batches.whose

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guardian_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("label", sa.String(length=20), nullable=True))
        batch_op.alter_column("line_user_id", existing_type=sa.String(length=33), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_residents_guardian_id_residents"),
            "residents",
            ["guardian_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_residents_guardian_id"), ["guardian_id"])
        batch_op.create_unique_constraint("uq_residents_guardian_label", ["guardian_id", "label"])
    with op.batch_alter_table("send_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("whose", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("send_batches", schema=None) as batch_op:
        batch_op.drop_column("whose")
    # Family profiles have no LINE id: they cannot exist in the older schema.
    op.execute("DELETE FROM residents WHERE guardian_id IS NOT NULL")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_constraint("uq_residents_guardian_label", type_="unique")
        batch_op.drop_index(batch_op.f("ix_residents_guardian_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_residents_guardian_id_residents"), type_="foreignkey"
        )
        batch_op.alter_column("line_user_id", existing_type=sa.String(length=33), nullable=False)
        batch_op.drop_column("label")
        batch_op.drop_column("guardian_id")
