"""assignments: a developer taken off a mini program no longer withdraws its requests

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled by catalog.assignment.* events; the assignments made before it by `mpdpctl announce catalog`.
    op.create_table(
        "assignments",
        sa.Column("miniprogram_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("assigned", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("miniprogram_id", "account_id"),
    )


def downgrade() -> None:
    op.drop_table("assignments")
