"""api keys name the account they act for, so that a key's requests and decisions are its creator's

Revision ID: 0007
Revises: 0006
"""

from mpdp_common.migrations import add_api_key_creators, drop_api_key_creators

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_api_key_creators()


def downgrade() -> None:
    drop_api_key_creators()
