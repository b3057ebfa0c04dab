"""Mail notifications: each member's choices per workspace, when a quality mail last went out,
and the catalog's assignments (who a mini program's mail goes to)

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_choices",
        sa.Column("workspace_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), primary_key=True),
        sa.Column("approvals", sa.Boolean, nullable=False),
        sa.Column("releases", sa.Boolean, nullable=False),
        sa.Column("quality", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notifications_sent",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "assignments",
        sa.Column("miniprogram_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), primary_key=True),
        sa.Column("workspace_id", sa.String(32), nullable=False, index=True),
        sa.Column("assigned", sa.Boolean, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("assignments")
    op.drop_table("notifications_sent")
    op.drop_table("notification_choices")
