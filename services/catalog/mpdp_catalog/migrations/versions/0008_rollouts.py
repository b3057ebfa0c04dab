"""rollout plans that advance by themselves, and a revision on every published launch state

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
        "rollouts",
        sa.Column("launch_id", sa.String(length=32), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("current_step", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_left_seconds", sa.Float(), nullable=True),
        sa.Column("guard", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["launch_id"], ["launches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("launch_id"),
    )
    op.create_index(op.f("ix_rollouts_next_step_at"), "rollouts", ["next_step_at"], unique=False)
    with op.batch_alter_table("launches") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("launches") as batch:
        batch.drop_column("revision")
    op.drop_index(op.f("ix_rollouts_next_step_at"), table_name="rollouts")
    op.drop_table("rollouts")
