"""the catalog's launches, whose guards the release guard checks

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "launches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("miniprogram_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rollout_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("guard", sa.JSON(), nullable=True),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_revision", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_launches_miniprogram_app", "launches", ["miniprogram_id", "app_id", "status"], unique=False)
    op.create_index(op.f("ix_launches_next_check_at"), "launches", ["next_check_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_launches_next_check_at"), table_name="launches")
    op.drop_index("ix_launches_miniprogram_app", table_name="launches")
    op.drop_table("launches")
