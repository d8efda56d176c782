"""residents: a partial index of the new friends whose language is still being asked

A new friend's follow stores them with `language = ''` (being asked) and the reply thread
that welcomes them asks LINE for their app's language. A follow nobody answers (standby
mode) learns it by a call after the commit, which can be dropped (LINE down for long,
the process's queue full) or die with its process: the language then stayed "being
asked", read as Japanese, for good. The clock process now looks for such rows every
minute (bot.registration.language.learn_left); this index lets it find the few among all
residents without reading every row.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ASKING = sa.text("language = ''")


def upgrade() -> None:
    op.create_index(
        "ix_residents_language_asking",
        "residents",
        ["followed_at"],
        sqlite_where=ASKING,
        postgresql_where=ASKING,
    )


def downgrade() -> None:
    op.drop_index("ix_residents_language_asking", table_name="residents")
