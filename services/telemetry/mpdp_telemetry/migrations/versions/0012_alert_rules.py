"""alert_rules: a mini program's alert rules and their state; crash events by their arrival, for
the error counts of a window

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
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("miniprogram_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("min_sessions", sa.Integer(), nullable=True),
        sa.Column("window_minutes", sa.Integer(), nullable=True),
        sa.Column("min_errors", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("last_sessions", sa.Integer(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
    )
    op.create_index("ix_alert_rules_workspace_id", "alert_rules", ["workspace_id"])
    op.create_index("ix_alert_rules_miniprogram", "alert_rules", ["miniprogram_id", "created_at", "id"])
    op.create_index("ix_alert_rules_next_check_at", "alert_rules", ["next_check_at"])
    op.create_index("ix_crash_events_received", "crash_events", ["miniprogram_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_crash_events_received", "crash_events")
    op.drop_table("alert_rules")
