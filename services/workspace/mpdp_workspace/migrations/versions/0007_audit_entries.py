"""the audit log: one row per change in a workspace, never updated

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("workspace_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("on_behalf_of", sa.String(64), nullable=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("subject_kind", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.UniqueConstraint("event_id", name="uq_audit_entries_event_id"),
    )
    op.create_index("ix_audit_entries_workspace_at", "audit_entries", ["workspace_id", "at", "id"])
    op.create_index("ix_audit_entries_workspace_action_at", "audit_entries", ["workspace_id", "action", "at"])
    op.create_index("ix_audit_entries_workspace_actor_at", "audit_entries", ["workspace_id", "actor_id", "at"])
    op.create_index("ix_audit_entries_workspace_on_behalf_of_at", "audit_entries", ["workspace_id", "on_behalf_of", "at"])
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    if op.get_bind().dialect.name == "postgresql":
        # A row, once written, is never changed: only the retention's purge removes it.
        op.execute(
            """
            CREATE FUNCTION audit_entries_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit log entries are never changed';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_entries_unchanged BEFORE UPDATE ON audit_entries FOR EACH ROW EXECUTE FUNCTION audit_entries_unchanged()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entries_unchanged ON audit_entries")
        op.execute("DROP FUNCTION audit_entries_unchanged()")
    op.drop_table("audit_entries")
