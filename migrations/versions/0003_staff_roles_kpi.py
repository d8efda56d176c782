"""staff roles and session epochs, shared login failures, homepage visits

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        # Logins made before roles existed could do everything: they become admin.
        batch_op.add_column(
            sa.Column("role", sa.String(length=10), nullable=False, server_default="admin")
        )
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("line_user_id", sa.String(length=33), nullable=True))
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        # New logins get their role from `todoku staff add --role`, never from a default.
        batch_op.alter_column("role", server_default=None)

    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_at"), ["at"], unique=False)
        batch_op.create_index(
            "ix_login_failures_name_address_at", ["name", "address", "at"], unique=False
        )
        batch_op.create_index("ix_login_failures_address_at", ["address", "at"], unique=False)

    op.create_table(
        "homepage_visits",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_homepage_visits")),
    )


def downgrade() -> None:
    op.drop_table("homepage_visits")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_address_at")
        batch_op.drop_index("ix_login_failures_name_address_at")
        batch_op.drop_index(batch_op.f("ix_login_failures_at"))
    op.drop_table("login_failures")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("line_user_id")
        batch_op.drop_column("session_epoch")
        batch_op.drop_column("role")
