"""versions keep their package report and source maps; the workspace settings read model keeps the package size limit

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("report", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("js_files", sa.JSON(), nullable=True))
    with op.batch_alter_table("workspace_settings") as batch:
        batch.add_column(sa.Column("package_size_limit_bytes", sa.BigInteger(), nullable=True))
    op.create_table(
        "sourcemaps",
        sa.Column("version_id", sa.String(length=32), sa.ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("js_path", sa.String(length=1024), primary_key=True),
        sa.Column("map_path", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("source_size", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sourcemaps_sha256", "sourcemaps", ["sha256"])
    op.create_index("ix_sourcemaps_source_sha256", "sourcemaps", ["source_sha256"])


def downgrade() -> None:
    op.drop_table("sourcemaps")
    with op.batch_alter_table("workspace_settings") as batch:
        batch.drop_column("package_size_limit_bytes")
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("js_files")
        batch.drop_column("report")
