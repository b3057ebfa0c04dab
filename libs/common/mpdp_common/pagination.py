"""Keyset pagination: `?limit=&cursor=`, answered as `{"items": [...], "next_cursor": ...}`."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from .errors import Problem, validation_failed


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None)


def not_a_cursor() -> Problem:
    """The answer to a cursor that no page of the list handed out."""
    return validation_failed({"cursor": ["Not a cursor this list handed out."]})


def page_schema(item_schema: type[Schema], **beside: fields.Field) -> type[Schema]:
    """The list envelope around `item_schema`, named for the OpenAPI document; `beside` are the
    fields of a list that answers more than its items."""
    name = item_schema.__name__.removesuffix("Schema") + "Page"
    envelope = {"items": fields.List(fields.Nested(item_schema)), "next_cursor": fields.String(allow_none=True)}
    return type(name, (Schema,), envelope | beside)


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        # In UTC here, as the database would compare it: a time near year 1 or 9999 in another
        # zone may not exist in UTC.
        return datetime.fromisoformat(created_at).astimezone(UTC), str(ident)
    except Exception:
        raise not_a_cursor() from None


def _encode(created_at: datetime, ident: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at.isoformat(), ident]).encode()).decode()


def paginate(session: Session, stmt: Select, query: dict[str, Any], time_column: Any, id_column: Any) -> dict[str, Any]:
    """One page of `stmt`'s rows, oldest first, ordered by (time_column, id_column)."""
    if query.get("cursor"):
        after_time, after_id = _decode(query["cursor"])
        stmt = stmt.where(or_(time_column > after_time, and_(time_column == after_time, id_column > after_id)))
    rows = session.scalars(stmt.order_by(time_column, id_column).limit(query["limit"] + 1)).all()
    items, more = rows[: query["limit"]], len(rows) > query["limit"]
    if not more:
        return {"items": items, "next_cursor": None}
    last = items[-1]
    return {"items": items, "next_cursor": _encode(getattr(last, time_column.key), getattr(last, id_column.key))}
