"""workspace_policies: which workspaces require two-factor sign-in

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled by workspace.settings.updated; a workspace without a row does not require two-factor sign-in.
    op.create_table(
        "workspace_policies",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("require_mfa", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id"),
    )


def downgrade() -> None:
    op.drop_table("workspace_policies")
