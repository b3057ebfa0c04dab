"""The gateway's gunicorn worker: gevent, so that a connection costs a greenlet, not a thread, and
a hundred clients that trickle or stall cannot keep anyone else from being served.

A request's head must arrive within gunicorn's keep-alive time; after it, every read of the body
and every write of the answer must progress within MPDP_GATEWAY_CLIENT_TIMEOUT, or the client is
dropped (see proxy.py: its body is received whole before a service is called).
"""

from __future__ import annotations

import socket
from types import FrameType
from typing import Any

from gunicorn.workers.base_async import AsyncWorker
from gunicorn.workers.ggevent import GeventWorker

from mpdp_common.config import Settings
from mpdp_common.httpserver import ProblemAnswers


class EdgeWorker(ProblemAnswers, GeventWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # gunicorn's arbiter's arguments, passed on as they come
        super().__init__(*args, **kwargs)
        self.client_timeout = Settings.from_env("gateway").gateway_client_timeout
        self.quitting = False

    def handle(self, listener: socket.socket, client: socket.socket, addr: tuple[object, ...] | str) -> None:
        # In place of GeventWorker.handle, which makes the socket block without a time limit.
        client.settimeout(self.client_timeout)
        AsyncWorker.handle(self, listener, client, addr)

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:
        # Ctrl-C reaches the worker and its arbiter, which passes it on as SIGQUIT; a second quit
        # would exit again while the first is exiting, and print its SystemExit.
        if not self.quitting:
            self.quitting = True
            super().handle_quit(sig, frame)
