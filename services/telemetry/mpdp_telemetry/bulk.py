"""Many rows at once. On PostgreSQL they go by COPY into a temporary table and from there into
the real one with `ON CONFLICT DO NOTHING`, a few statements whatever their number; on SQLite (the
embedded mode) row by row, which is what its one writer does anyway."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import ARRAY, ColumnElement, Connection, SQLColumnExpression, String, any_, bindparam, text
from sqlalchemy.orm import Session

from mpdp_common.db import on_postgresql


def insert_new(
    session: Session, table: str, columns: tuple[str, ...], rows: Sequence[tuple], returning: tuple[str, ...] = ()
) -> list[tuple]:
    """Insert the rows whose key is not in `table` yet; with `returning`, those columns of the rows inserted."""
    if not rows:
        return []
    names = ", ".join(columns)
    back = f" RETURNING {', '.join(returning)}" if returning else ""
    connection = session.connection()
    if not on_postgresql(connection):
        insert = text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + name for name in columns)}) ON CONFLICT DO NOTHING{back}")
        if not returning:
            session.execute(insert, [dict(zip(columns, row, strict=True)) for row in rows])
            return []
        # SQLite answers its stored text (days as strings): the values are taken from the rows given.
        positions = [columns.index(name) for name in returning]
        return [tuple(row[i] for i in positions) for row in rows if session.execute(insert, dict(zip(columns, row, strict=True))).first()]
    staging = f"staging_{table}"
    with driver_cursor(connection) as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS")
        cursor.execute(f"TRUNCATE {staging}")
        with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} ON CONFLICT DO NOTHING{back}")
        return [tuple(row) for row in cursor.fetchall()] if returning else []


def among(session: Session, column: SQLColumnExpression[str], values: list[str]) -> ColumnElement[bool]:
    """`column IN values`, sent to PostgreSQL as one array parameter rather than thousands of them."""
    if on_postgresql(session):
        return column == any_(bindparam("among", values, type_=ARRAY(String)))
    return column.in_(values)


def driver_cursor(connection: Connection, *, binary: bool = False) -> psycopg.Cursor[Any]:
    """A psycopg cursor on the connection's own driver connection (COPY, binary results)."""
    driver = connection.connection.driver_connection
    assert driver is not None, "a connection in use has its driver connection"
    return driver.cursor(binary=binary)
