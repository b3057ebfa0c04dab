"""read model of workspace API keys

Revision ID: 0002
Revises: 0001
"""
from mpdp_common.migrations import create_api_keys_read_model, drop_api_keys_read_model

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_api_keys_read_model()


def downgrade() -> None:
    drop_api_keys_read_model()
