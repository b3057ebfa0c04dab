"""read model of workspace service emails

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:29:47.627030
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workspace_mail_settings',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('sender', sa.String(length=254), nullable=True),
    sa.Column('smtp_host', sa.String(length=253), nullable=True),
    sa.Column('smtp_port', sa.Integer(), nullable=True),
    sa.Column('smtp_username', sa.String(length=254), nullable=True),
    sa.Column('smtp_password_encrypted', sa.Text(), nullable=True),
    sa.Column('primary_domain', sa.String(length=253), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id')
    )


def downgrade() -> None:
    op.drop_table('workspace_mail_settings')
