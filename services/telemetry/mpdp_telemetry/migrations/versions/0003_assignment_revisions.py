"""assignments: the read model keeps an ended assignment, unassigned, with the revision of its last event

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The assignments kept before this revision came from events without one: revision 0, which
    # any event that carries a revision replaces.
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("assigned", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("assignments") as batch:
        batch.alter_column("assigned", existing_type=sa.Boolean(), server_default=None)
        batch.alter_column("revision", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    # Without the flag an ended assignment would read as current.
    assignments = sa.table("assignments", sa.column("assigned", sa.Boolean()))
    op.execute(sa.delete(assignments).where(sa.not_(assignments.c.assigned)))
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("revision")
        batch.drop_column("assigned")
