"""Forwarding one request to the owning service and its answer back.

The request body is received whole before the service is called (in memory up to 1 MiB, in a
temporary file beyond), as a buffering proxy does: a client that trickles or stalls holds a
greenlet of the gateway, never a thread of a service. The answer is streamed back as it comes.
Connections to the services are kept open and reused by whichever request is free.
"""

from __future__ import annotations

import http.client
import logging
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit
from wsgiref.types import InputStream, WSGIEnvironment

from mpdp_common.config import Settings
from mpdp_common.errors import DRAIN_LIMIT, Problem, drain
from mpdp_common.events.actors import incoming_traceparent

log = logging.getLogger(__name__)

# RFC 9110 section 7.6.1: these describe one connection and are never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
#: Request headers the gateway sets itself.
REPLACED = frozenset({"host", "content-length", "x-request-id", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "traceparent"})
#: Answer headers the gateway does not pass on.
ANSWER_DROPPED = HOP_BY_HOP | {"x-request-id"}
CHUNK = 64 * 1024
#: Bodies kept in memory while they arrive; a larger one goes to a temporary file.
IN_MEMORY_BODY = 1024 * 1024
#: Bodies that may be large (packages, crash reports); any other body is capped like a JSON document.
STREAMED_TYPES = frozenset({"multipart/form-data", "application/zip", "application/octet-stream", "application/x-sentry-envelope"})

#: Dot segments and encoded separators: a path holding one could mean another route to the
#: service behind than to the gateway, so it is refused rather than normalized.
AMBIGUOUS_PATH = re.compile(r"(^|/)\.{1,2}(/|$)|%2e|%2f|%5c|\\", re.IGNORECASE)


def client_path(environ: WSGIEnvironment) -> str:
    """The path exactly as the client sent it (percent-encoding kept), which is what is routed on
    and forwarded; PATH_INFO is already decoded."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        return quote(environ.get("PATH_INFO", ""), safe="/:@!$&'()*+,;=-._~")
    if "://" in raw.split("/", 1)[0] + "/":  # absolute-form request target
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    return raw.split("?", 1)[0].split("#", 1)[0]


#: a request body as received: whole in memory, in a temporary file past IN_MEMORY_BODY, or none
Body = bytes | tempfile.SpooledTemporaryFile[bytes] | None


class _Unreachable(Exception):
    """The service's port did not accept a connection in time."""


class _Connection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, connect_timeout: float, read_timeout: float):
        super().__init__(host, port, timeout=connect_timeout, blocksize=CHUNK)
        self.read_timeout = read_timeout
        self.idle_since = 0.0

    def connect(self) -> None:
        try:
            super().connect()
        except OSError as error:
            raise _Unreachable(error.__class__.__name__) from None
        self.sock.settimeout(self.read_timeout)


class Upstreams:
    """Open connections to each service, taken by a request and given back once its answer is read."""

    #: Below the services' keep-alive (5 s): a connection idle longer may be closing at their end.
    MAX_IDLE_SECONDS = 2.0
    MAX_IDLE_CONNECTIONS = 64

    def __init__(self, settings: Settings):
        self._addresses = {name: _host_and_port(url) for name, url in settings.service_urls.items()}
        self._idle: dict[str, list[_Connection]] = {name: [] for name in settings.service_urls}
        self.connect_timeout = settings.upstream_connect_timeout
        self.read_timeout = settings.upstream_read_timeout

    def take(self, service: str) -> tuple[_Connection, bool]:
        idle = self._idle[service]
        while idle:
            try:
                connection = idle.pop()
            except IndexError:  # another request took the last one
                break
            if time.monotonic() - connection.idle_since < self.MAX_IDLE_SECONDS:
                return connection, True
            connection.close()
        host, port = self._addresses[service]
        return _Connection(host, port, self.connect_timeout, self.read_timeout), False

    def give_back(self, service: str, connection: _Connection) -> None:
        idle = self._idle[service]
        if len(idle) < self.MAX_IDLE_CONNECTIONS:
            connection.idle_since = time.monotonic()
            idle.append(connection)
        else:
            connection.close()


def _host_and_port(url: str) -> tuple[str, int]:
    address = urlsplit(url)
    if not address.hostname:
        raise ValueError(f"the service URL {url!r} names no host")
    return address.hostname, address.port or 80


@dataclass
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: Iterable[bytes]


class Proxy:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.upstreams = Upstreams(settings)

    def forward(self, environ: WSGIEnvironment, service: str, raw_path: str, request_id: str) -> Answer:
        body, length = self._received_body(environ)
        query = environ.get("QUERY_STRING")
        target = raw_path + ("?" + query if query else "")
        headers = _forwarded_headers(environ, request_id, length)
        method = environ["REQUEST_METHOD"]
        # A connection the service closed while it was idle fails at once; a request that carries
        # nothing to lose is sent again on a new one.
        attempts = 2 if method in ("GET", "HEAD") else 1
        try:
            connection, response = self._send(service, method, target, body, headers, attempts)
        finally:
            if isinstance(body, tempfile.SpooledTemporaryFile):
                body.close()
        return self._answer(service, connection, response)

    def _send(
        self, service: str, method: str, target: str, body: Body, headers: dict[str, str], attempts: int
    ) -> tuple[_Connection, http.client.HTTPResponse]:
        for attempt in range(attempts):
            connection, reused = self.upstreams.take(service)
            try:
                if isinstance(body, tempfile.SpooledTemporaryFile):
                    body.seek(0)
                connection.request(method, target, body=body, headers=headers)
                return connection, connection.getresponse()
            except _Unreachable as error:
                log.warning("%s unreachable: %s", service, error)
                raise _unavailable(service) from None
            except TimeoutError:
                connection.close()
                raise Problem(504, f"The {service} service took too long to answer.") from None
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                if not (reused and attempt + 1 < attempts):
                    log.warning("%s failed to answer: %s", service, error.__class__.__name__)
                    raise _unavailable(service) from None
        raise _unavailable(service)  # not reached: the last attempt answers or raises

    def _answer(self, service: str, connection: _Connection, response: http.client.HTTPResponse) -> Answer:
        # The service's request id is ours: it was sent along.
        headers = [(name, value) for name, value in response.getheaders() if name.lower() not in ANSWER_DROPPED]
        status = f"{response.status} {response.reason}"
        if response.length is not None and response.length <= CHUNK:
            # The common small answer: read at once, the connection free for the next request.
            try:
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                log.warning("%s answer interrupted: %r", service, error)
                raise _unavailable(service) from None
            self._release(service, connection, response)
            return Answer(status, headers, [data])
        return Answer(status, headers, self._relay(service, connection, response))

    def _relay(self, service: str, connection: _Connection, response: http.client.HTTPResponse) -> Iterator[bytes]:
        try:
            while chunk := response.read1(CHUNK):
                yield chunk
        except (OSError, http.client.HTTPException) as error:  # the service died mid-answer: the client sees a cut response
            log.warning("%s answer interrupted: %r", service, error)
        finally:
            self._release(service, connection, response)

    def _release(self, service: str, connection: _Connection, response: http.client.HTTPResponse) -> None:
        if response.isclosed() and not response.will_close:
            self.upstreams.give_back(service, connection)
        else:
            connection.close()

    def _received_body(self, environ: WSGIEnvironment) -> tuple[Body, int | None]:
        """The whole request body (bytes, or a temporary file) and its length; or (None, None)."""
        mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        cap = self.settings.gateway_max_body_bytes if mimetype in STREAMED_TYPES else self.settings.max_body_bytes
        declared = environ.get("CONTENT_LENGTH")
        chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
        if declared:
            length = int(declared)
            if length > cap:
                drain(environ["wsgi.input"], length)
                raise _too_large(cap)
        elif chunked:
            length = None
        else:
            return None, None
        stream = environ["wsgi.input"]
        if length is not None and length <= IN_MEMORY_BODY:
            data = _read(stream, length)
            if len(data) < length:
                raise _stalled()
            return data, length
        spool = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_BODY)
        received = 0
        try:
            while length is None or received < length:
                data = _read(stream, CHUNK if length is None else min(CHUNK, length - received))
                if not data:
                    break
                received += len(data)
                if received > cap:
                    drain(stream, DRAIN_LIMIT)
                    raise _too_large(cap)
                spool.write(data)
        except BaseException:
            spool.close()
            raise
        if length is not None and received < length:
            spool.close()
            raise _stalled()
        return spool, received


def _read(stream: InputStream, size: int) -> bytes:
    try:
        return stream.read(size)
    except Exception as error:  # a timeout, or the server's own "client went away"
        raise _stalled() from error


def _unavailable(service: str) -> Problem:
    return Problem(503, f"The {service} service is unavailable; try again shortly.", headers={"Retry-After": "5"})


def _too_large(cap: int) -> Problem:
    return Problem(413, f"The body is over the limit of {cap} bytes.")


def _stalled() -> Problem:
    return Problem(408, "The request body did not arrive in time.")


def _forwarded_headers(environ: WSGIEnvironment, request_id: str, length: int | None) -> dict[str, str]:
    named_by_connection = {name.strip().lower() for name in environ.get("HTTP_CONNECTION", "").split(",")}
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
            if name not in HOP_BY_HOP and name not in REPLACED and name not in named_by_connection:
                headers[name] = value
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if length is not None:
        headers["content-length"] = str(length)
    headers["x-request-id"] = request_id
    # The request's trace: the gateway's span in it, when tracing; else the client's when it sent
    # a valid one, or one begun here (the service's events carry it).
    headers["traceparent"] = environ.get("mpdp.traceparent") or incoming_traceparent(environ.get("HTTP_TRACEPARENT"))
    forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
    remote = environ.get("REMOTE_ADDR", "")
    headers["x-forwarded-for"] = f"{forwarded_for}, {remote}" if forwarded_for else remote
    headers["x-forwarded-proto"] = environ.get("wsgi.url_scheme", "http")
    headers["x-forwarded-host"] = environ.get("HTTP_HOST", "")
    return headers
