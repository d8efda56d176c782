"""residents.language and send_batches.variant: notices in the resident's language

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Everyone registered so far reads Japanese; new residents get their LINE app's language.
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="ja", nullable=False)
        )
    # A batch is one message variant (its language); batches recorded before were Japanese.
    with op.batch_alter_table("send_batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("variant", sa.String(length=40), server_default="ja", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("send_batches", schema=None) as batch_op:
        batch_op.drop_column("variant")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("language")
