"""workspaces that require two-factor sign-in; erased accounts

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspace_mail_settings") as batch:
        batch.add_column(sa.Column("require_mfa", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("erased_at")
    with op.batch_alter_table("workspace_mail_settings") as batch:
        batch.drop_column("require_mfa")
