"""The database session of the current HTTP request."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .errors import conflict


def commit_or_conflict(session: Session, detail: str) -> None:
    """Commit; a unique constraint that a concurrent request won answers 409 with `detail`."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise conflict(detail) from None


def db_session() -> Session:
    """The session of the current request, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["mpdp"].session_factory()
    return g.db_session


def close_request_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
