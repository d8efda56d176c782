"""reply outbox: replies stored with their webhook event, sent after commit

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_outbox",
        sa.Column("webhook_event_id", sa.String(length=64), nullable=False),
        sa.Column("line_user_id", sa.String(length=33), nullable=False),
        sa.Column("reply_token", sa.String(length=64), nullable=True),
        sa.Column("messages", sa.Text(), nullable=False),
        sa.Column("retry_key", sa.String(length=36), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("webhook_event_id", name=op.f("pk_reply_outbox")),
    )
    with op.batch_alter_table("reply_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reply_outbox_lease_until"), ["lease_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reply_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_outbox_lease_until"))
    op.drop_table("reply_outbox")
