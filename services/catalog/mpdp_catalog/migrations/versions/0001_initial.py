"""mini programs, versions, testers, JSAPIs, features, read models, outbox and inbox

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 16:31:27.509092
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
    op.create_table('features',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('activation', sa.String(length=16), nullable=False),
    sa.Column('visible_to_all', sa.Boolean(), nullable=False),
    sa.Column('jsapi_ids', sa.JSON(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'name')
    )
    op.create_index(op.f('ix_features_workspace_id'), 'features', ['workspace_id'], unique=False)
    op.create_table('jsapis',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('platforms', sa.JSON(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'name')
    )
    op.create_index(op.f('ix_jsapis_workspace_id'), 'jsapis', ['workspace_id'], unique=False)
    op.create_table('miniprograms',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'name')
    )
    op.create_index(op.f('ix_miniprograms_workspace_id'), 'miniprograms', ['workspace_id'], unique=False)
    op.create_table('workspaces',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('assignments',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['miniprogram_id'], ['miniprograms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('miniprogram_id', 'account_id')
    )
    op.create_index(op.f('ix_assignments_account_id'), 'assignments', ['account_id'], unique=False)
    op.create_table('feature_activations',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('feature_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['feature_id'], ['features.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['miniprogram_id'], ['miniprograms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('miniprogram_id', 'feature_id')
    )
    op.create_table('feature_revisions',
    sa.Column('feature_id', sa.String(length=32), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['feature_id'], ['features.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('feature_id', 'revision')
    )
    op.create_table('testers',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['miniprogram_id'], ['miniprograms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('miniprogram_id', 'user_id')
    )
    op.create_table('versions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('entry_page', sa.String(length=255), nullable=False),
    sa.Column('pages', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['miniprogram_id'], ['miniprograms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('miniprogram_id', 'version')
    )
    op.create_index(op.f('ix_versions_sha256'), 'versions', ['sha256'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_versions_sha256'), table_name='versions')
    op.drop_table('versions')
    op.drop_table('testers')
    op.drop_table('feature_revisions')
    op.drop_table('feature_activations')
    op.drop_index(op.f('ix_assignments_account_id'), table_name='assignments')
    op.drop_table('assignments')
    op.drop_table('workspaces')
    op.drop_index(op.f('ix_miniprograms_workspace_id'), table_name='miniprograms')
    op.drop_table('miniprograms')
    op.drop_index(op.f('ix_jsapis_workspace_id'), table_name='jsapis')
    op.drop_table('jsapis')
    op.drop_index(op.f('ix_features_workspace_id'), table_name='features')
    op.drop_table('features')
    drop_api_keys_read_model()
    drop_members_read_model()
    drop_event_tables()
