"""Sentry's sessions are folded like ingest's: their updates become raw events, the folder keeps
each session's state and counts it per day, host app and version with exact users; users only
Sentry has named have no first day; pre-counted sessions say their host app

The sessions kept before are written to raw_events once, for the folder to count them as it
counts new ones (their host app unknown: "").

Revision ID: 0009
Revises: 0008
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _partitions_for_old_sessions(bind) -> None:
    days = bind.execute(sa.text("SELECT DISTINCT day FROM release_sessions")).scalars().all()
    for day in days:
        bind.execute(
            sa.text(
                f"CREATE TABLE IF NOT EXISTS raw_events_p{day:%Y%m%d} PARTITION OF raw_events "
                f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
            )
        )


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        _partitions_for_old_sessions(bind)
    now = "now()" if postgresql else "CURRENT_TIMESTAMP"
    op.execute(
        "INSERT INTO raw_events (day, miniprogram_id, event_id, occurred_at, received_at, app_id, type, version, user_id, session_id, name) "
        f"SELECT day, miniprogram_id, session_id, {now}, {now}, '', 'session', release, coalesce(distinct_id, ''), session_id, status "
        "FROM release_sessions WHERE true ON CONFLICT DO NOTHING"
    )
    op.drop_index("ix_release_sessions_miniprogram_day", table_name="release_sessions")
    op.drop_table("release_sessions")
    op.create_table(
        "release_sessions",
        sa.Column("miniprogram_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("user_number", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("miniprogram_id", "session_id"),
    )
    with op.batch_alter_table("user_numbers") as batch:
        batch.alter_column("first_day", existing_type=sa.Date(), nullable=True)
    _aggregates_keyed_by(["miniprogram_id", "day", "app_id", "release"], add_app=True)


def _aggregates_keyed_by(columns: list[str], *, add_app: bool) -> None:
    """Key the pre-counted sessions by `columns`, adding (or dropping) their host app."""
    if op.get_bind().dialect.name == "postgresql":
        if add_app:
            op.add_column("session_aggregates", sa.Column("app_id", sa.String(length=32), server_default="", nullable=False))
        op.drop_constraint("session_aggregates_pkey", "session_aggregates", type_="primary")
        op.create_primary_key("session_aggregates_pkey", "session_aggregates", columns)
        if not add_app:
            op.drop_column("session_aggregates", "app_id")
        return
    # SQLite changes a key by making the table anew.
    kept = ["miniprogram_id", "day", "release", "total", "crashed", "errored"]
    op.create_table(
        "session_aggregates_new",
        sa.Column("miniprogram_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *([sa.Column("app_id", sa.String(length=32), server_default="", nullable=False)] if add_app else []),
        sa.Column("release", sa.String(length=64), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("crashed", sa.BigInteger(), nullable=False),
        sa.Column("errored", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*columns),
    )
    op.execute(f"INSERT INTO session_aggregates_new ({', '.join(kept)}) SELECT {', '.join(kept)} FROM session_aggregates")
    op.drop_table("session_aggregates")
    op.rename_table("session_aggregates_new", "session_aggregates")


def downgrade() -> None:
    # Sessions reported per host app add up again under one key: the row of the first app holds them all.
    same = (
        "FROM session_aggregates other WHERE other.miniprogram_id = session_aggregates.miniprogram_id "
        "AND other.day = session_aggregates.day AND other.release = session_aggregates.release"
    )
    first = f"app_id = (SELECT min(other.app_id) {same})"
    totals = ", ".join(f"{name} = (SELECT sum(other.{name}) {same})" for name in ("total", "crashed", "errored"))
    op.execute(f"UPDATE session_aggregates SET {totals} WHERE {first}")
    op.execute(f"DELETE FROM session_aggregates WHERE NOT {first}")
    _aggregates_keyed_by(["miniprogram_id", "day", "release"], add_app=False)
    op.execute("UPDATE user_numbers SET first_day = '1970-01-01' WHERE first_day IS NULL")
    with op.batch_alter_table("user_numbers") as batch:
        batch.alter_column("first_day", existing_type=sa.Date(), nullable=False)
    op.drop_table("release_sessions")
    op.create_table(
        "release_sessions",
        sa.Column("miniprogram_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("release", sa.String(length=64), nullable=False),
        sa.Column("distinct_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("miniprogram_id", "session_id"),
    )
    op.create_index("ix_release_sessions_miniprogram_day", "release_sessions", ["miniprogram_id", "day"], unique=False)
