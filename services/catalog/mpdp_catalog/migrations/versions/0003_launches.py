"""launches with their history, the delivery read model, host apps, settings and app keys

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('app_keys',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id')
    )
    op.create_index(op.f('ix_app_keys_app_id'), 'app_keys', ['app_id'], unique=False)
    op.create_index(op.f('ix_app_keys_workspace_id'), 'app_keys', ['workspace_id'], unique=False)
    op.create_table('apps',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_apps_workspace_id'), 'apps', ['workspace_id'], unique=False)
    op.create_table('deliverables',
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('launch_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('percentage', sa.Integer(), nullable=False),
    sa.Column('testers', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('app_id', 'miniprogram_id', 'channel')
    )
    op.create_table('workspace_settings',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('tester_whitelist_enabled', sa.Boolean(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id')
    )
    op.create_table('launches',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('version_id', sa.String(length=32), nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('percentage', sa.Integer(), nullable=True),
    sa.Column('pending_request_id', sa.String(length=32), nullable=True),
    sa.Column('pending_request_type', sa.String(length=16), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['miniprogram_id'], ['miniprograms.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['versions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_launches_miniprogram_id'), 'launches', ['miniprogram_id'], unique=False)
    op.create_index('uq_launches_in_progress', 'launches', ['miniprogram_id', 'app_id'], unique=True, postgresql_where=sa.text("status IN ('under_review', 'pilot', 'ready', 'grayscale')"), sqlite_where=sa.text("status IN ('under_review', 'pilot', 'ready', 'grayscale')"))
    op.create_index('uq_launches_released', 'launches', ['miniprogram_id', 'app_id'], unique=True, postgresql_where=sa.text("status = 'released'"), sqlite_where=sa.text("status = 'released'"))
    op.create_table('launch_history',
    sa.Column('launch_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('percentage', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['launch_id'], ['launches.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('launch_id', 'seq')
    )



def downgrade() -> None:

    op.drop_table('launch_history')
    op.drop_index('uq_launches_released', table_name='launches', postgresql_where=sa.text("status = 'released'"), sqlite_where=sa.text("status = 'released'"))
    op.drop_index('uq_launches_in_progress', table_name='launches', postgresql_where=sa.text("status IN ('under_review', 'pilot', 'ready', 'grayscale')"), sqlite_where=sa.text("status IN ('under_review', 'pilot', 'ready', 'grayscale')"))
    op.drop_index(op.f('ix_launches_miniprogram_id'), table_name='launches')
    op.drop_table('launches')
    op.drop_table('workspace_settings')
    op.drop_table('deliverables')
    op.drop_index(op.f('ix_apps_workspace_id'), table_name='apps')
    op.drop_table('apps')
    op.drop_index(op.f('ix_app_keys_workspace_id'), table_name='app_keys')
    op.drop_index(op.f('ix_app_keys_app_id'), table_name='app_keys')
    op.drop_table('app_keys')

