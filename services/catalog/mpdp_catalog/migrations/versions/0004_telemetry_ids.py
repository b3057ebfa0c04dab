"""telemetry_id: the numeric id of each mini program in crash-report DSNs

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telemetry_ids",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("miniprograms") as batch:
        batch.add_column(sa.Column("telemetry_id", sa.BigInteger(), nullable=True))
    # Mini programs made before this revision get their ids in the order they were created.
    connection = op.get_bind()
    telemetry_ids = sa.table("telemetry_ids", sa.column("id", sa.BigInteger()))
    miniprograms = sa.table("miniprograms", sa.column("id", sa.String()), sa.column("telemetry_id", sa.BigInteger()), sa.column("created_at"))
    for (miniprogram_id,) in connection.execute(sa.select(miniprograms.c.id).order_by(miniprograms.c.created_at, miniprograms.c.id)).all():
        telemetry_id = connection.execute(sa.insert(telemetry_ids).values().returning(telemetry_ids.c.id)).scalar_one()
        connection.execute(sa.update(miniprograms).where(miniprograms.c.id == miniprogram_id).values(telemetry_id=telemetry_id))
    with op.batch_alter_table("miniprograms") as batch:
        batch.alter_column("telemetry_id", existing_type=sa.BigInteger(), nullable=False)
        batch.create_unique_constraint("uq_miniprograms_telemetry_id", ["telemetry_id"])


def downgrade() -> None:
    with op.batch_alter_table("miniprograms") as batch:
        batch.drop_constraint("uq_miniprograms_telemetry_id", type_="unique")
        batch.drop_column("telemetry_id")
    op.drop_table("telemetry_ids")
