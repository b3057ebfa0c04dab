"""launches name the oldest host app version that runs them, and delivery keeps earlier releases for older hosts

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("launches", "deliverables"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("min_host_version", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM deliverables WHERE channel LIKE 'previous%'")
    for table in ("deliverables", "launches"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("min_host_version")
