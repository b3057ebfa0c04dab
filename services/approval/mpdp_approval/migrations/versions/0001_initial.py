"""approvals with their audit trail, read models, outbox and inbox

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa

from mpdp_common.migrations import create_api_keys_read_model, create_event_tables, create_members_read_model, drop_api_keys_read_model, drop_event_tables, drop_members_read_model


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_tables()
    create_members_read_model()
    create_api_keys_read_model()
    op.create_table('approvals',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('subject_kind', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('applicant_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_approvals_applicant', 'approvals', ['workspace_id', 'applicant_id', 'created_at'], unique=False)
    op.create_index('ix_approvals_workspace_created', 'approvals', ['workspace_id', 'created_at', 'id'], unique=False)
    op.create_table('approval_audit',
    sa.Column('approval_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['approval_id'], ['approvals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('approval_id', 'seq')
    )


def downgrade() -> None:
    op.drop_table('approval_audit')
    op.drop_index('ix_approvals_workspace_created', table_name='approvals')
    op.drop_index('ix_approvals_applicant', table_name='approvals')
    op.drop_table('approvals')
    drop_api_keys_read_model()
    drop_members_read_model()
    drop_event_tables()
