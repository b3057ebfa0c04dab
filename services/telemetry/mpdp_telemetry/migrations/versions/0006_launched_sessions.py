"""release health counts the sessions of the platform's own ingest: app_launch sessions and their js_errors

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "launched_sessions",
        sa.Column("miniprogram_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("app_id", sa.String(length=32), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("user_number", sa.Integer(), nullable=True),
        sa.Column("crashed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("miniprogram_id", "session_id"),
    )


def downgrade() -> None:
    op.drop_table("launched_sessions")
