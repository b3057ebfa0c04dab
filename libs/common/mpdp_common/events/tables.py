"""The outbox and inbox tables that every service that publishes or consumes events has."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from ..db import UtcDateTime


def define_event_tables(metadata: MetaData) -> tuple[Table, Table]:
    if "outbox" in metadata.tables:
        return metadata.tables["outbox"], metadata.tables["inbox"]
    outbox = Table(
        "outbox",
        metadata,
        # SQLite only auto-increments an INTEGER PRIMARY KEY.
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("event_id", String(32), nullable=False, unique=True),
        Column("type", String(120), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("published_at", UtcDateTime),
    )
    # The relay reads the unsent rows in order; the sent ones kept for inspection stay out of its way.
    unsent = outbox.c.published_at.is_(None)
    Index("ix_outbox_unsent", outbox.c.seq, postgresql_where=unsent, sqlite_where=unsent)
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(64), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("type", String(120), nullable=False),
        Column("processed_at", UtcDateTime, nullable=False),
    )
    return outbox, inbox
