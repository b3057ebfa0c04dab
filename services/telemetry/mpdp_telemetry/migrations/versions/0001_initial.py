"""read models, raw events partitioned by day, daily rollups, crash issues and release health, outbox and inbox

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 10:28:53.246510
"""
from alembic import op
import sqlalchemy as sa

from mpdp_common.db import on_postgresql
from mpdp_common.migrations import create_api_keys_read_model, create_event_tables, create_members_read_model, drop_api_keys_read_model, drop_event_tables, drop_members_read_model


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_tables()
    create_members_read_model()
    create_api_keys_read_model()
    op.create_table('app_keys',
    sa.Column('learned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id')
    )
    with op.batch_alter_table('app_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_keys_app_id'), ['app_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_app_keys_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('assignments',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('miniprogram_id', 'account_id')
    )
    op.create_table('crash_events',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('issue_id', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('miniprogram_id', 'event_id')
    )
    op.create_table('daily_counts',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('metric', sa.String(length=24), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('miniprogram_id', 'day', 'app_id', 'version', 'metric', 'key')
    )
    op.create_table('fold_positions',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('issue_users',
    sa.Column('issue_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('issue_id', 'user_id')
    )
    op.create_table('issue_versions',
    sa.Column('issue_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('issue_id', 'version', 'day')
    )
    with op.batch_alter_table('issue_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issue_versions_miniprogram_id'), ['miniprogram_id'], unique=False)

    op.create_table('issues',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('culprit', sa.String(length=255), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('regressed', sa.Boolean(), nullable=False),
    sa.Column('resolved_in', sa.String(length=64), nullable=True),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('users', sa.Integer(), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('latest_event', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.create_index('ix_issues_miniprogram_fingerprint', ['miniprogram_id', 'fingerprint'], unique=True)
        batch_op.create_index(batch_op.f('ix_issues_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('miniprograms',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('telemetry_id', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('user_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('telemetry_id')
    )
    with op.batch_alter_table('miniprograms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_miniprograms_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('raw_events',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('session_id', sa.String(length=128), nullable=False),
    sa.Column('page', sa.String(length=255), nullable=True),
    sa.Column('duration_ms', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=True),
    sa.Column('txid', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('day', 'miniprogram_id', 'event_id'),
    postgresql_partition_by='RANGE (day)'
    )
    with op.batch_alter_table('raw_events', schema=None) as batch_op:
        batch_op.create_index('ix_raw_events_txid', ['txid'], unique=False)

    op.create_table('release_sessions',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('release', sa.String(length=64), nullable=False),
    sa.Column('distinct_id', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('miniprogram_id', 'session_id')
    )
    with op.batch_alter_table('release_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_release_sessions_miniprogram_day', ['miniprogram_id', 'day'], unique=False)

    op.create_table('session_aggregates',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('release', sa.String(length=64), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('crashed', sa.BigInteger(), nullable=False),
    sa.Column('errored', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('miniprogram_id', 'day', 'release')
    )
    op.create_table('session_days',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('session_id', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('miniprogram_id', 'day', 'session_id')
    )
    op.create_table('startup_times',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('miniprogram_id', 'day', 'app_id', 'version', 'duration_ms')
    )
    op.create_table('user_numbers',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('miniprogram_id', 'user_id')
    )
    op.create_table('user_sets',
    sa.Column('miniprogram_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('bits', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('miniprogram_id', 'day', 'app_id', 'version', 'kind', 'key')
    )
    op.create_table('workspaces',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('parent_id', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    if on_postgresql(op.get_bind()):
        # The writing transaction's id orders the folding (see mpdp_telemetry.raw_events).
        op.execute("ALTER TABLE raw_events ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)")
        # Bitmaps barely compress; stored as they are, a report reads them several times faster.
        op.execute("ALTER TABLE user_sets ALTER COLUMN bits SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table('workspaces')
    op.drop_table('user_sets')
    op.drop_table('user_numbers')
    op.drop_table('startup_times')
    op.drop_table('session_days')
    op.drop_table('session_aggregates')
    with op.batch_alter_table('release_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_release_sessions_miniprogram_day')

    op.drop_table('release_sessions')
    with op.batch_alter_table('raw_events', schema=None) as batch_op:
        batch_op.drop_index('ix_raw_events_txid')

    op.drop_table('raw_events')
    with op.batch_alter_table('miniprograms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_miniprograms_workspace_id'))

    op.drop_table('miniprograms')
    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issues_workspace_id'))
        batch_op.drop_index('ix_issues_miniprogram_fingerprint')

    op.drop_table('issues')
    with op.batch_alter_table('issue_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issue_versions_miniprogram_id'))

    op.drop_table('issue_versions')
    op.drop_table('issue_users')
    op.drop_table('fold_positions')
    op.drop_table('daily_counts')
    op.drop_table('crash_events')
    op.drop_table('assignments')
    with op.batch_alter_table('app_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_keys_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_app_keys_app_id'))

    op.drop_table('app_keys')
    drop_api_keys_read_model()
    drop_members_read_model()
    drop_event_tables()
