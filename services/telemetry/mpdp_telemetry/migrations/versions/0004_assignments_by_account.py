"""assignments are found by member as well as by mini program

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_assignments_account_id", "assignments", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_assignments_account_id", table_name="assignments")
