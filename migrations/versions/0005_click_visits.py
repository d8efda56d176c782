"""clicks.visit_key: one counted visit per link, visitor and day

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visit_key", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_clicks_visit_key"), ["visit_key"])


def downgrade() -> None:
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_clicks_visit_key"), type_="unique")
        batch_op.drop_column("visit_key")
