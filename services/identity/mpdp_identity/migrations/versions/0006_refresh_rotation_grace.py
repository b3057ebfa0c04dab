"""a rotated refresh token remembers its successor and answer, for the reuse grace window

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("refresh_tokens", sa.Column("replaced_by", sa.String(length=32), nullable=True))
    op.add_column("refresh_tokens", sa.Column("rotation_encrypted", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("refresh_tokens", "rotation_encrypted")
    op.drop_column("refresh_tokens", "replaced_by")
