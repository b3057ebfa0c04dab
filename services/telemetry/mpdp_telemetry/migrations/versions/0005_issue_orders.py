"""a mini program's issues are listed by last seen, by event count or by first seen

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ORDERS = ("last_seen", "count", "first_seen")


def upgrade() -> None:
    for column in ORDERS:
        op.create_index(f"ix_issues_miniprogram_{column}", "issues", ["miniprogram_id", column, "id"])


def downgrade() -> None:
    for column in ORDERS:
        op.drop_index(f"ix_issues_miniprogram_{column}", table_name="issues")
