"""workspaces, settings, assets, apps, app keys, API keys, read models, outbox and inbox

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 16:29:25.349095
"""
from alembic import op
import sqlalchemy as sa

from mpdp_common.migrations import create_event_tables, create_members_read_model, drop_event_tables, drop_members_read_model


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_tables()
    create_members_read_model()
    op.create_table('api_keys',
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_api_keys_workspace_id'), 'api_keys', ['workspace_id'], unique=False)
    op.create_table('app_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id'),
    sa.UniqueConstraint('id')
    )
    op.create_index(op.f('ix_app_keys_app_id'), 'app_keys', ['app_id'], unique=False)
    op.create_index(op.f('ix_app_keys_workspace_id'), 'app_keys', ['workspace_id'], unique=False)
    op.create_table('launches',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('miniprogram_id', sa.String(length=64), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_launches_miniprogram_id'), 'launches', ['miniprogram_id'], unique=False)
    op.create_index(op.f('ix_launches_workspace_id'), 'launches', ['workspace_id'], unique=False)
    op.create_table('miniprograms',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('last_upload_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_miniprograms_workspace_id'), 'miniprograms', ['workspace_id'], unique=False)
    op.create_table('workspaces',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.String(length=32), nullable=True),
    sa.Column('business_type', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('business_address', sa.String(length=500), nullable=True),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['workspaces.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_workspaces_parent_id'), 'workspaces', ['parent_id'], unique=False)
    op.create_table('apps',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('platforms', sa.JSON(), nullable=False),
    sa.Column('bundle_id', sa.String(length=155), nullable=False),
    sa.Column('android_cert_fingerprints', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'name', name='uq_apps_workspace_name')
    )
    op.create_index(op.f('ix_apps_workspace_id'), 'apps', ['workspace_id'], unique=False)
    op.create_table('assets',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_assets_workspace_id'), 'assets', ['workspace_id'], unique=False)
    op.create_table('workspace_settings',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('logo_url', sa.String(length=2048), nullable=True),
    sa.Column('favicon_url', sa.String(length=2048), nullable=True),
    sa.Column('sender', sa.String(length=254), nullable=True),
    sa.Column('smtp_host', sa.String(length=253), nullable=True),
    sa.Column('smtp_port', sa.Integer(), nullable=True),
    sa.Column('smtp_username', sa.String(length=254), nullable=True),
    sa.Column('smtp_password_encrypted', sa.Text(), nullable=True),
    sa.Column('primary_domain', sa.String(length=253), nullable=True),
    sa.Column('alternative_domains', sa.JSON(), nullable=False),
    sa.Column('tester_whitelist_enabled', sa.Boolean(), nullable=False),
    sa.Column('about_us_url', sa.String(length=2048), nullable=True),
    sa.Column('terms_of_service_url', sa.String(length=2048), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ),
    sa.PrimaryKeyConstraint('workspace_id')
    )


def downgrade() -> None:
    op.drop_table('workspace_settings')
    op.drop_index(op.f('ix_assets_workspace_id'), table_name='assets')
    op.drop_table('assets')
    op.drop_index(op.f('ix_apps_workspace_id'), table_name='apps')
    op.drop_table('apps')
    op.drop_index(op.f('ix_workspaces_parent_id'), table_name='workspaces')
    op.drop_table('workspaces')
    op.drop_index(op.f('ix_miniprograms_workspace_id'), table_name='miniprograms')
    op.drop_table('miniprograms')
    op.drop_index(op.f('ix_launches_workspace_id'), table_name='launches')
    op.drop_index(op.f('ix_launches_miniprogram_id'), table_name='launches')
    op.drop_table('launches')
    op.drop_index(op.f('ix_app_keys_workspace_id'), table_name='app_keys')
    op.drop_index(op.f('ix_app_keys_app_id'), table_name='app_keys')
    op.drop_table('app_keys')
    op.drop_index(op.f('ix_api_keys_workspace_id'), table_name='api_keys')
    op.drop_table('api_keys')
    drop_members_read_model()
    drop_event_tables()
