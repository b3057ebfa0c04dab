"""the outbox indexes its unsent rows alone, so that the relay's reads do not grow with the sent rows kept

Revision ID: 0002
Revises: 0001
"""

from mpdp_common.migrations import index_outbox_by_publication, index_unsent_outbox_rows

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_unsent_outbox_rows()


def downgrade() -> None:
    index_outbox_by_publication()
