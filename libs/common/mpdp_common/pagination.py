"""Keyset pagination: `?limit=&cursor=`, answered as `{"items": [...], "next_cursor": ...}`."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Integer, Select, tuple_
from sqlalchemy.orm import Session

from .errors import Problem, validation_failed
from .schemas import ResponseSchema

#: what `paginate` hands out: URL-safe base64 (of the last row's key); empty is the first page
KEYSET_CURSOR = "^[A-Za-z0-9_-]*={0,2}$"
#: what a list that counts its rows hands out (a report's next row, a feature's last revision)
NUMBERED_CURSOR = "^[0-9]{0,9}$"


def _cursor(pattern: str) -> fields.String:
    return fields.String(load_default=None, metadata={"pattern": pattern, "description": "the `next_cursor` of the page before"})


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = _cursor(KEYSET_CURSOR)


class NumberedPageQuery(PageQuery):
    """The page query of a list whose cursor is a number (see `cursor_number`)."""

    cursor = _cursor(NUMBERED_CURSOR)


def not_a_cursor() -> Problem:
    """The answer to a cursor that no page of the list handed out."""
    return validation_failed({"cursor": ["Not a cursor this list handed out."]})


def cursor_number(query: dict[str, Any]) -> int:
    """The number a `NumberedPageQuery`'s cursor holds, 0 without one."""
    cursor = query["cursor"]
    if not cursor:
        return 0
    if not re.fullmatch(NUMBERED_CURSOR, cursor):
        raise not_a_cursor()
    return int(cursor)


def page_schema(item_schema: type[Schema], **beside: fields.Field) -> type[Schema]:
    """The list envelope around `item_schema`, named for the OpenAPI document; `beside` are the
    fields of a list that answers more than its items."""
    name = item_schema.__name__.removesuffix("Schema") + "Page"
    envelope = {
        "items": fields.List(fields.Nested(item_schema)),
        "next_cursor": fields.String(allow_none=True, metadata={"description": "the cursor of the next page; null on the last"}),
    }
    return type(name, (ResponseSchema,), envelope | beside)


def _decode(cursor: str, key_column: Any, order: str | None) -> tuple[Any, str]:
    if not re.fullmatch(KEYSET_CURSOR, cursor):  # base64 decoding would skip the characters it does not know
        raise not_a_cursor()
    try:
        *named, value, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if named != ([order] if order else []):
            raise ValueError("a cursor of another order")
        if isinstance(key_column.type, Integer):
            if type(value) is not int or not -(2**63) <= value < 2**63:
                raise ValueError("not a count")
            return value, str(ident)
        # In UTC here, as the database would compare it: a time near year 1 or 9999 in another
        # zone may not exist in UTC.
        return datetime.fromisoformat(value).astimezone(UTC), str(ident)
    except Exception:
        raise not_a_cursor() from None


def _encode(value: Any, ident: str, order: str | None) -> str:
    key = value.isoformat() if isinstance(value, datetime) else value
    return base64.urlsafe_b64encode(json.dumps([*([order] if order else []), key, ident]).encode()).decode()


def paginate(
    session: Session,
    stmt: Select,
    query: dict[str, Any],
    key_column: Any,
    id_column: Any,
    *,
    descending: bool = False,
    order: str | None = None,
) -> dict[str, Any]:
    """One page of `stmt`'s rows ordered by (key_column, id_column), a time or a count, oldest or
    smallest first unless `descending`. A list with several orders names them: a cursor carries
    its `order` and is refused by another."""
    keyset = tuple_(key_column, id_column)
    if query.get("cursor"):
        after = _decode(query["cursor"], key_column, order)
        stmt = stmt.where(keyset < after if descending else keyset > after)
    direction = (key_column.desc(), id_column.desc()) if descending else (key_column, id_column)
    rows = session.scalars(stmt.order_by(*direction).limit(query["limit"] + 1)).all()
    items, more = rows[: query["limit"]], len(rows) > query["limit"]
    if not more:
        return {"items": items, "next_cursor": None}
    last = items[-1]
    return {"items": items, "next_cursor": _encode(getattr(last, key_column.key), getattr(last, id_column.key), order)}
