"""each refresh token keeps the user agent and address that asked for it: a chain is a session

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
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("user_agent", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("ip", sa.String(length=64), nullable=True))
    op.create_index("ix_refresh_tokens_account_id", "refresh_tokens", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_account_id", table_name="refresh_tokens")
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("ip")
        batch.drop_column("user_agent")
