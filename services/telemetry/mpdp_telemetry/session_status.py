"""What a session's status says, for those who count sessions: the folder (rollups.py) and an
alert rule's window (alerts.py) alike."""

from __future__ import annotations

#: a session is kept at its worst status: a crash is never undone by a later update
SEVERITY = {"ok": 0, "exited": 1, "errored": 2, "unhandled": 3, "abnormal": 4, "crashed": 5}
#: the statuses of a session that crashed: the JavaScript SDKs end one with an uncaught error as `unhandled`
CRASHED = ("crashed", "abnormal", "unhandled")
#: the raw event type of a Sentry session's update: not one ingest accepts, folded into release health
SESSION = "session"
