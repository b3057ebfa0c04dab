"""the platform's own mail and verified emails: single-use mail tokens, a verification date per account

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("verification_mailed_at", sa.DateTime(timezone=True), nullable=True))
    # Accounts made before verification existed keep doing what they did.
    op.execute("UPDATE accounts SET email_verified_at = created_at")
    with op.batch_alter_table("mail_queue") as batch:
        batch.alter_column("workspace_id", existing_type=sa.String(length=32), nullable=True)
    op.create_table(
        "mail_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_mail_tokens_account_id", "mail_tokens", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_mail_tokens_account_id", table_name="mail_tokens")
    op.drop_table("mail_tokens")
    op.execute("DELETE FROM mail_queue WHERE workspace_id IS NULL")
    with op.batch_alter_table("mail_queue") as batch:
        batch.alter_column("workspace_id", existing_type=sa.String(length=32), nullable=False)
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("verification_mailed_at")
        batch.drop_column("email_verified_at")
