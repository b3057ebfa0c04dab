"""The Python host kit against a fake platform in this process: it checks each signature as the
gateway does, answers 304 to a known ETag, serves ranges and can break a download off, answers
429 with Retry-After and counts what ingest received."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mpdp_host import (
    AuthenticationError,
    Backoff,
    Deliverable,
    HostClient,
    NetworkError,
    PackageIntegrityError,
    RateLimitedError,
    ValidationError,
    signature,
)
from mpdp_host.analytics import events_of
from mpdp_host.retry import retry_after_seconds

KEY_ID, SECRET = "mak_" + "a" * 24, "s3cr3t-" + "x" * 30
PACKAGE = bytes(range(256)) * 400


class FakePlatform:
    def __init__(self) -> None:
        self.package = PACKAGE
        self.announced_sha = hashlib.sha256(PACKAGE).hexdigest()
        self.break_after: int | None = None  # bytes sent before a download is broken off, once
        self.limited = 0  # ingest answers 429 this many times first
        self.failing = 0  # ingest answers 503 this many times first
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []


def handler_for(fake: FakePlatform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def problem(self, status: int, title: str, **extra: Any) -> None:
            body = json.dumps({"type": "about:blank", "title": title, "status": status, **extra}).encode()
            self.answer(status, body, {"Content-Type": "application/problem+json", **extra.pop("headers", {})})

        def signed(self) -> bool:
            url = urlsplit(self.path)
            timestamp = self.headers.get("X-MPDP-Timestamp", "")
            expected = hmac.new(SECRET.encode(), f"{timestamp}\nGET\n{url.path}\n{url.query}".encode(), hashlib.sha256).hexdigest()
            return self.headers.get("X-MPDP-Key") == KEY_ID and hmac.compare_digest(expected, self.headers.get("X-MPDP-Signature", ""))

        def do_GET(self) -> None:
            fake.requests.append(("GET", self.path, dict(self.headers)))
            url = urlsplit(self.path)
            if not self.signed():
                return self.problem(401, "Unauthorized")
            if url.path == "/client/v1/miniprograms":
                query = parse_qs(url.query)
                if query.get("host_version") == ["nope"]:
                    return self.problem(422, "Unprocessable Content", errors={"host_version": ["a semantic version"]})
                item = {
                    "miniprogram_id": "mp1",
                    "name": "Shop",
                    "version": "1.0.0" if query.get("host_version") != ["1.0.0"] else "0.9.0",
                    "version_id": "v1",
                    "channel": "released",
                    "package_url": "/client/v1/miniprograms/mp1/versions/v1/package",
                    "sha256": fake.announced_sha,
                    "size": len(fake.package),
                }
                body = json.dumps({"items": [item]}).encode()
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                if self.headers.get("If-None-Match") == etag:
                    return self.answer(304, headers={"ETag": etag})
                return self.answer(200, body, {"ETag": etag, "Content-Type": "application/json"})
            if url.path.endswith("/package"):
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
                    if start >= len(fake.package):
                        return self.problem(416, "Range Not Satisfiable")
                body = fake.package[start:]
                status, headers = 200, {}
                if start:
                    status, headers = 206, {"Content-Range": f"bytes {start}-{len(fake.package) - 1}/{len(fake.package)}"}
                if fake.break_after is not None:
                    cut, fake.break_after = fake.break_after, None
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                return self.answer(status, body, headers)
            return self.problem(404, "Not Found")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            fake.requests.append(("POST", self.path, dict(self.headers)))
            if self.headers.get("X-MPDP-Key") != KEY_ID:
                return self.problem(401, "Unauthorized")
            if fake.limited:
                fake.limited -= 1
                return self.problem(429, "Too Many Requests", headers={"Retry-After": "2"})
            if fake.failing:
                fake.failing -= 1
                return self.problem(503, "Service Unavailable")
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            batch = json.loads(body)
            known = {event["event_id"] for event in fake.events}
            fake.events += [event for event in batch["events"] if event["event_id"] not in known]
            answered = json.dumps({"accepted": len(batch["events"]), "rejected": []}).encode()
            return self.answer(202, answered, {"Content-Type": "application/json"})

    return Handler


@pytest.fixture
def fake() -> Iterator[tuple[FakePlatform, str]]:
    platform = FakePlatform()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(platform))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield platform, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(base: str, tmp_path: Any, **options: Any) -> HostClient:
    return HostClient(base, KEY_ID, SECRET, cache_dir=tmp_path, backoff=Backoff(attempts=4, base=0.01), **options)


def test_the_signature_is_the_contracts() -> None:
    message = b"1700000000\nGET\n/client/v1/miniprograms\nuser_id=ada"
    expected = hmac.new(b"secret", message, hashlib.sha256).hexdigest()
    assert signature("secret", 1700000000, "get", "/client/v1/miniprograms", "user_id=ada") == expected


def test_the_list_is_signed_cached_with_its_etag_and_names_the_host_version(fake: tuple[FakePlatform, str], tmp_path: Any) -> None:
    platform, base = fake
    host = client(base, tmp_path, host_version="8.2.0")
    [item] = host.miniprograms("ada")
    assert (item.miniprogram_id, item.version, item.size) == ("mp1", "1.0.0", len(PACKAGE))
    assert platform.requests[-1][1] == "/client/v1/miniprograms?user_id=ada&host_version=8.2.0"
    assert host.miniprograms("ada") == [item]
    assert "If-None-Match" in platform.requests[-1][2]
    # A client started again uses the list kept in its cache folder, and still gets 304.
    again = client(base, tmp_path, host_version="8.2.0")
    assert again.miniprograms("ada") == [item] and "If-None-Match" in platform.requests[-1][2]
    assert client(base, tmp_path).miniprograms("ada", host_version="1.0.0")[0].version == "0.9.0"
    with pytest.raises(ValidationError) as refused:
        host.miniprograms("ada", host_version="nope")
    assert "host_version" in str(refused.value) and refused.value.errors == {"host_version": ["a semantic version"]}


def test_a_wrong_secret_is_a_typed_error_that_never_shows_the_secret(fake: tuple[FakePlatform, str], tmp_path: Any, caplog: Any) -> None:
    _platform, base = fake
    caplog.set_level(logging.DEBUG)
    host = HostClient(base, KEY_ID, "not-the-secret", cache_dir=tmp_path)
    with pytest.raises(AuthenticationError) as refused:
        host.miniprograms("ada")
    assert refused.value.status == 401 and "401 Unauthorized" in str(refused.value)
    assert "not-the-secret" not in repr(host) + str(refused.value) + caplog.text


def test_a_download_resumes_where_it_broke_off_and_is_verified(fake: tuple[FakePlatform, str], tmp_path: Any) -> None:
    platform, base = fake
    host = client(base, tmp_path)
    [item] = host.miniprograms("ada")
    platform.break_after = 40_000
    path = host.download(item)
    assert path.read_bytes() == PACKAGE
    ranges = [headers.get("Range") for method, url, headers in platform.requests if url.endswith("/package")]
    assert ranges[0] is None and len(ranges) == 2 and 0 < int(ranges[1].removeprefix("bytes=").rstrip("-")) <= 40_000, ranges
    # Cached: no request; a cached file changed on disk is not used but fetched again.
    assert host.download(item) == path and len(platform.requests) == 3
    path.write_bytes(b"tampered")
    assert host.cached(item) is None
    assert host.download(item).read_bytes() == PACKAGE


def test_a_package_whose_sha256_does_not_match_is_never_used(fake: tuple[FakePlatform, str], tmp_path: Any) -> None:
    platform, base = fake
    host = client(base, tmp_path)
    platform.announced_sha = hashlib.sha256(b"another package").hexdigest()
    [item] = host.miniprograms("ada")
    with pytest.raises(PackageIntegrityError) as refused:
        host.download(item)
    assert refused.value.expected == platform.announced_sha and "discarded" in str(refused.value)
    assert not any((tmp_path / "packages").rglob("*.zip")) and not any((tmp_path / "packages").rglob("*.part"))


def test_a_stale_part_longer_than_the_package_starts_over(fake: tuple[FakePlatform, str], tmp_path: Any) -> None:
    _platform, base = fake
    host = client(base, tmp_path)
    url, sha256 = "/client/v1/miniprograms/mp1/versions/v1/package", hashlib.sha256(PACKAGE).hexdigest()
    item = Deliverable.from_json({"miniprogram_id": "mp1", "version": "1.0.0", "package_url": url, "sha256": sha256})
    part = host.package_path(item).with_suffix(".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * (len(PACKAGE) + 5))  # no size announced: the platform's 416 says so
    assert host.download(item).read_bytes() == PACKAGE


def test_the_dsn_is_sentrys(tmp_path: Any) -> None:
    host = HostClient("https://mpdp.example.com/", KEY_ID, SECRET, cache_dir=tmp_path)
    assert host.sentry_dsn(42) == f"https://{KEY_ID}@mpdp.example.com/ingest/sentry/42"


def test_analytics_batches_and_honours_retry_after_and_backoff(fake: tuple[FakePlatform, str], tmp_path: Any) -> None:
    platform, base = fake
    sleeps = Sleeps()
    analytics = client(base, tmp_path).analytics(batch_size=3, sleep=sleeps, backoff=Backoff(attempts=5, base=0.5))
    session = analytics.session("mp1", "1.0.0", "ada")
    session.app_launch(duration_ms=800)
    session.page_view("home", duration_ms=1200)
    session.track("add_to_cart", {"sku": "A1"})
    session.js_error("TypeError: x is undefined", page="home")
    session.end(duration_ms=60_000)
    assert len(analytics) == 5
    platform.limited, platform.failing = 1, 2
    assert analytics.flush() == 5
    assert sleeps[0] == 2.0  # the Retry-After asked for
    assert 0.75 <= sleeps[1] <= 1.0 and 1.5 <= sleeps[2] <= 2.0, sleeps  # doubling, with jitter
    assert [event["type"] for event in platform.events] == ["app_launch", "page_view", "custom", "js_error", "session_end"]
    assert platform.events[2]["name"] == "add_to_cart" and platform.events[4]["duration_ms"] == 60_000
    assert len({event["session_id"] for event in platform.events}) == 1
    assert analytics.stats.sent == 5 and analytics.stats.batches == 2 and len(analytics) == 0


def test_events_stay_queued_while_the_platform_cannot_take_them(fake: tuple[FakePlatform, str], tmp_path: Any) -> None:
    platform, base = fake
    analytics = client(base, tmp_path).analytics(batch_size=10, sleep=Sleeps(), backoff=Backoff(attempts=2))
    session = analytics.session("mp1", "1.0.0", "ada")
    ids = [session.page_view(f"p{n}") for n in range(4)]
    platform.limited = 2
    with pytest.raises(RateLimitedError) as limited:
        analytics.flush()
    assert limited.value.retry_after == 2.0 and len(analytics) == 4
    assert [event["event_id"] for event in events_of(analytics)] == ids
    assert analytics.flush() == 4 and [event["event_id"] for event in platform.events] == ids

    nowhere = HostClient("http://127.0.0.1:9", KEY_ID, SECRET, cache_dir=tmp_path)
    unreachable = nowhere.analytics(sleep=Sleeps(), backoff=Backoff(attempts=2))
    unreachable.session("mp1", "1.0.0", "ada").page_view("home")
    with pytest.raises(NetworkError):
        unreachable.flush()
    assert len(unreachable) == 1


def test_a_full_queue_drops_its_oldest_events(tmp_path: Any) -> None:
    analytics = HostClient("http://127.0.0.1:9", KEY_ID, SECRET, cache_dir=tmp_path).analytics(max_queue=3)
    session = analytics.session("mp1", "1.0.0", "ada")
    for n in range(5):
        session.page_view(f"p{n}")
    assert [event["page"] for event in events_of(analytics)] == ["p2", "p3", "p4"] and analytics.stats.dropped == 2


def test_the_background_thread_sends_full_batches(fake: tuple[FakePlatform, str], tmp_path: Any) -> None:
    platform, base = fake
    with client(base, tmp_path).analytics(batch_size=2, flush_interval=30).start() as analytics:
        session = analytics.session("mp1", "1.0.0", "ada")
        session.page_view("a")
        session.page_view("b")
        deadline = threading.Event()
        for _ in range(100):
            if len(platform.events) == 2:
                break
            deadline.wait(0.02)
        assert len(platform.events) == 2
        session.page_view("c")
    assert [event["page"] for event in platform.events] == ["a", "b", "c"]


def test_retry_after_takes_seconds_and_dates() -> None:
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
