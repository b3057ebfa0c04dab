"""Structured JSON logs in which every line names the request or event it belongs to."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from .config import Settings

#: The id of the request (or of the event's correlation) being handled in this context.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

#: The service whose code runs in this context (embedded mode runs all of them in one process).
service_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("service_name", default=None)

_configured = False

#: Paths that carry a secret (an invitation token) in a segment; logs show the segment masked.
_SECRET_SEGMENTS = re.compile(r"(/invitations/)[^/]+(/accept)")


def redact_path(path: str) -> str:
    return _SECRET_SEGMENTS.sub(r"\1***\2", path)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = service_name.get() or self.service
        record.request_id = request_id.get()
        return True


FORMAT = "%(asctime)s %(levelname)s %(name)s %(service)s %(request_id)s %(message)s"
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


def gunicorn_log_config(settings: Settings) -> dict[str, Any]:
    """gunicorn's own lines in the same JSON shape (its access log is off: the app logs requests)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": _ContextFilter, "service": settings.service}},
        "formatters": {"json": {"()": JsonFormatter, "fmt": FORMAT, "rename_fields": RENAMED}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}},
        "root": {"handlers": ["stderr"], "level": settings.log_level},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": settings.log_level, "propagate": False},
            "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send JSON lines to stderr; safe to call more than once (embedded mode mounts many apps)."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(FORMAT, rename_fields=RENAMED))
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pika logs every connection attempt at INFO; its warnings are what an operator needs.
    logging.getLogger("pika").setLevel(logging.WARNING)
    # The embedded mode's server would log every request line again, secrets in paths included.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _configured = True
