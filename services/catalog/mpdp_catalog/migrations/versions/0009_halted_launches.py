"""launches halted by their guard: a status still in progress, and the reason and figures in the history

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BEFORE = sa.text("status IN ('under_review', 'pilot', 'ready', 'grayscale')")
AFTER = sa.text("status IN ('under_review', 'pilot', 'ready', 'grayscale', 'halted')")


def _in_progress_index(where) -> None:
    op.drop_index("uq_launches_in_progress", table_name="launches")
    op.create_index("uq_launches_in_progress", "launches", ["miniprogram_id", "app_id"], unique=True, postgresql_where=where, sqlite_where=where)


def upgrade() -> None:
    _in_progress_index(AFTER)
    with op.batch_alter_table("launch_history") as batch:
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("figures", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("launch_history") as batch:
        batch.drop_column("figures")
        batch.drop_column("reason")
    _in_progress_index(BEFORE)
