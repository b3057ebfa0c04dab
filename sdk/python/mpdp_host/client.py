"""The host app's client: signed delivery (the mini program list with If-None-Match, packages with
Range resume and sha256 verification into a cache folder), its analytics queue and its crash-report DSN."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from .analytics import Analytics
from .errors import MPDPError, NetworkError, PackageIntegrityError, error_for
from .retry import RETRIED_STATUSES, Backoff, retry_after_seconds
from .signing import signed_headers

log = logging.getLogger("mpdp_host")

LIST_PATH = "/client/v1/miniprograms"
#: read in small pieces: what arrived before a connection broke is kept, but for the last piece
CHUNK = 16 * 1024


@dataclass(frozen=True)
class Deliverable:
    """One mini program this user runs, as delivery announced it."""

    miniprogram_id: str
    name: str
    version: str
    version_id: str
    channel: str
    package_url: str
    sha256: str
    size: int

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Deliverable:
        return cls(
            miniprogram_id=str(item["miniprogram_id"]),
            name=str(item.get("name", "")),
            version=str(item["version"]),
            version_id=str(item.get("version_id", "")),
            channel=str(item.get("channel", "released")),
            package_url=str(item["package_url"]),
            sha256=str(item["sha256"]).lower(),
            size=int(item.get("size") or 0),
        )


class HostClient:
    """A host app's client, with one of its app keys.

    `cache_dir` keeps downloaded packages (and the last list answered, for If-None-Match after a
    restart); without it, a folder under the system's temporary one. The secret signs requests and
    is never logged, printed or stored."""

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret: str,
        *,
        host_version: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise MPDPError(f"base_url must be an http(s) URL, not {base_url!r}")
        if not key_id or not secret:
            raise MPDPError("an app key's key_id and secret are both needed (the console shows the secret once, when the key is made)")
        self.base_url = base_url.rstrip("/")
        self._prefix = urlsplit(self.base_url).path
        self.key_id = key_id
        self.__secret = secret
        self.host_version = host_version
        self.cache_dir = Path(cache_dir) if cache_dir is not None else Path(os.environ.get("TMPDIR", "/tmp")) / "mpdp-host-cache"
        self.timeout = timeout
        self.backoff = backoff or Backoff()
        self.http = session or requests.Session()
        self._sleep = sleep
        self._lists: dict[tuple[str, str | None], tuple[str, list[Deliverable]]] = {}

    def __repr__(self) -> str:
        return f"HostClient({self.base_url!r}, key_id={self.key_id!r}, secret=<hidden>)"

    # -- signed requests ---------------------------------------------------------------------

    def signed_headers(self, method: str, path: str, query: str = "") -> dict[str, str]:
        """The signing headers for one request of `path` (as on the platform) and `query` (as sent)."""
        return signed_headers(self.key_id, self.__secret, method, self._prefix + path, query)

    def _get(self, path: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> requests.Response:
        """A signed GET, signed afresh and tried again on network trouble, 429 and 5xx (honouring
        Retry-After); any other error answer raises its typed error."""
        query = urlencode(dict(params or {}))
        url = self.base_url + path + (f"?{query}" if query else "")
        for attempt in range(self.backoff.attempts):
            try:
                signed = {**self.signed_headers("GET", path, query), **(headers or {})}
                answer = self.http.get(url, headers=signed, timeout=self.timeout, stream=True)
            except requests.RequestException as error:
                if attempt + 1 >= self.backoff.attempts:
                    reason = error.__class__.__name__
                    raise NetworkError(f"GET {path}: the platform at {self.base_url} could not be reached ({reason})") from None
                self._sleep(self.backoff.delay(attempt))
                continue
            if answer.status_code < 400:
                return answer
            retry_after = retry_after_seconds(answer.headers.get("Retry-After"))
            if answer.status_code in RETRIED_STATUSES and attempt + 1 < self.backoff.attempts:
                answer.close()
                self._sleep(self.backoff.delay(attempt, retry_after))
                continue
            raise error_for(answer.status_code, _problem(answer), retry_after)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the mini program list ---------------------------------------------------------------

    def miniprograms(self, user_id: str, host_version: str | None = None) -> list[Deliverable]:
        """What `user_id` runs, for a host of `host_version` (else the client's): the list answered
        before when the platform says 304 Not Modified to its ETag."""
        version = host_version or self.host_version
        params = {"user_id": user_id, **({"host_version": version} if version else {})}
        known = self._lists.get((user_id, version)) or self._stored_list(user_id, version)
        answer = self._get(LIST_PATH, params, {"If-None-Match": known[0]} if known else None)
        if answer.status_code == 304 and known:
            return list(known[1])
        try:
            items = [Deliverable.from_json(item) for item in answer.json()["items"]]
        except (ValueError, KeyError, TypeError) as error:
            raise MPDPError(f"the mini program list could not be read ({error.__class__.__name__})") from None
        etag = answer.headers.get("ETag", "")
        if etag:
            self._lists[(user_id, version)] = (etag, items)
            self._store_list(user_id, version, etag, items)
        return list(items)

    def _list_file(self, user_id: str, version: str | None) -> Path:
        name = hashlib.sha256(f"{self.key_id}\n{user_id}\n{version or ''}".encode()).hexdigest()[:32]
        return self.cache_dir / "lists" / f"{name}.json"

    def _stored_list(self, user_id: str, version: str | None) -> tuple[str, list[Deliverable]] | None:
        try:
            stored = json.loads(self._list_file(user_id, version).read_text())
            return stored["etag"], [Deliverable.from_json(item) for item in stored["items"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _store_list(self, user_id: str, version: str | None, etag: str, items: list[Deliverable]) -> None:
        path = self._list_file(user_id, version)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"etag": etag, "items": [asdict(item) for item in items]}))
            os.replace(temporary, path)
        except OSError as error:  # a cache that cannot be written costs a full answer next time, no more
            log.warning("mpdp_host: the list cache at %s could not be written (%s)", path.parent, error.__class__.__name__)

    # -- packages ----------------------------------------------------------------------------

    def package_path(self, item: Deliverable) -> Path:
        """Where `item`'s package is kept once downloaded and verified."""
        return self.cache_dir / "packages" / _safe(item.miniprogram_id) / f"{_safe(item.version)}-{item.sha256[:16]}.zip"

    def cached(self, item: Deliverable) -> Path | None:
        """`item`'s package if it is in the cache and its sha256 is still the announced one."""
        path = self.package_path(item)
        if path.is_file():
            if _sha256_of(path) == item.sha256:
                return path
            path.unlink(missing_ok=True)
        return None

    def download(self, item: Deliverable) -> Path:
        """`item`'s package in the cache: downloaded if missing, resumed with Range where an
        earlier download stopped, verified against its sha256. A package whose sha256 does not
        match is deleted and PackageIntegrityError raised: it is never used."""
        found = self.cached(item)
        if found is not None:
            return found
        final = self.package_path(item)
        part = final.with_suffix(".part")
        final.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(self.backoff.attempts):
            offset = part.stat().st_size if part.exists() else 0
            if item.size and offset > item.size:
                part.unlink()
                offset = 0
            if item.size and offset == item.size:
                break
            try:
                self._fetch_into(item, part, offset)
                break
            except NetworkError:
                if attempt + 1 >= self.backoff.attempts:
                    raise
                self._sleep(self.backoff.delay(attempt))
        actual = _sha256_of(part)
        if actual != item.sha256:
            part.unlink(missing_ok=True)
            raise PackageIntegrityError(item.miniprogram_id, item.version, item.sha256, actual)
        os.replace(part, final)
        return final

    def _fetch_into(self, item: Deliverable, part: Path, offset: int) -> None:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            answer = self._get(item.package_url, headers=headers)
        except MPDPError as error:
            if getattr(error, "status", None) == 416:  # the part is no prefix of this package: start again
                part.unlink(missing_ok=True)
                answer = self._get(item.package_url)
                offset = 0
            else:
                raise
        with answer:
            if offset and answer.status_code == 206:
                start = answer.headers.get("Content-Range", "").removeprefix("bytes ").split("-", 1)[0]
                if start != str(offset):
                    raise MPDPError(f"package {item.miniprogram_id}@{item.version}: a range from {start!r} answered for {offset}")
                mode = "ab"
            else:
                mode = "wb"  # a full answer: the range was not taken
            try:
                with part.open(mode) as stream:
                    for chunk in answer.iter_content(CHUNK):
                        stream.write(chunk)
            except requests.RequestException as error:
                reason = error.__class__.__name__
                raise NetworkError(f"package {item.miniprogram_id}@{item.version}: the download broke off ({reason})") from None

    # -- telemetry ---------------------------------------------------------------------------

    def sentry_dsn(self, telemetry_id: int | str) -> str:
        """The DSN for a Sentry SDK reporting this mini program's crashes through this app's key:
        `telemetry_id` is the mini program's numeric id (the console shows it with its DSN)."""
        if not str(telemetry_id).isdigit():
            raise MPDPError(f"telemetry_id is the mini program's numeric id, not {telemetry_id!r}")
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{self.key_id}@{parts.netloc}{self._prefix}/ingest/sentry/{telemetry_id}"

    def analytics(self, **options: Any) -> Analytics:
        """An analytics queue sending through this client's platform with its key (ingest needs no signature)."""
        return Analytics(self.base_url, self.key_id, **options)


def _problem(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _safe(name: str) -> str:
    return "".join(char if char.isalnum() or char in "._-" else "_" for char in name)[:100] or "_"
