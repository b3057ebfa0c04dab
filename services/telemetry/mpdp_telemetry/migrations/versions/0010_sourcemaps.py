"""the source maps of mini program versions, by reference to the package store's blobs, and
whether a mini program has any

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
    op.create_table(
        "sourcemaps",
        sa.Column("miniprogram_id", sa.String(length=32), primary_key=True),
        sa.Column("version", sa.String(length=64), primary_key=True),
        sa.Column("js_path", sa.String(length=1024), primary_key=True),
        sa.Column("map_path", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("source_size", sa.BigInteger(), nullable=False),
        sa.Column("learned_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("miniprograms") as batch:
        batch.add_column(sa.Column("has_sourcemaps", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("miniprograms") as batch:
        batch.drop_column("has_sourcemaps")
    op.drop_table("sourcemaps")
