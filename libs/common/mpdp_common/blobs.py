"""Where package bytes live: a content-addressed blob store behind a small interface.

An upload is never held in memory whole: `Spool` is the file the multipart parser writes the
package into, hashing it on the way; the store then takes that file over (a rename on a local
disk, a streamed multipart upload to S3), under the key its SHA-256 gives it.

The catalog writes the store: packages, and the source maps and minified files of their
versions. Telemetry reads the maps from it by the SHA-256 that `catalog.version.sourcemaps_added`
names (a blob never changes under its key), so that megabytes of maps never go through the
broker and no service reads another's tables (see docs/telemetry.md, "Source maps").

    MPDP_BLOB_STORE=local   (default) files under MPDP_DATA_DIR/blobs
    MPDP_BLOB_STORE=s3      MPDP_S3_BUCKET, MPDP_S3_ENDPOINT_URL (any S3-compatible service);
                            credentials and region from the standard AWS_* variables
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from mpdp_common.config import Settings

CHUNK = 256 * 1024


class Spool:
    """A temporary file that hashes and counts what is written to it, and keeps no more than
    `limit` bytes: past the limit it only counts (`over_limit`), so that the caller can name the
    whole size in its refusal without having stored it."""

    def __init__(self, directory: str, limit: int):
        os.makedirs(directory, exist_ok=True)
        self._file = tempfile.NamedTemporaryFile(dir=directory, prefix="upload-", suffix=".part", delete=False)
        self.path = self._file.name
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def over_limit(self) -> bool:
        return self.size > self.limit

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            return len(data)  # counted, not kept
        self._hash.update(data)
        return self._file.write(data)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._file.readline(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        self._file.flush()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


#: The bytes [start, stop) of a blob, as Werkzeug's `Range.range_for_length` gives them.
ByteRange = tuple[int, int]


@dataclass
class Blob:
    """An open stored blob, or the slice of it asked for: its size and a stream of its bytes."""

    size: int
    chunks: Iterator[bytes]


class BlobStore(Protocol):
    def put(self, spool: Spool, content_type: str = "application/zip") -> bool:
        """Take over the spooled file under its SHA-256; True if it was not stored before."""

    def open(self, sha256: str, byte_range: ByteRange | None = None) -> Blob:
        """The blob's bytes, or only those in `byte_range`, which must lie within the blob."""

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None: ...


def _key(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256: {sha256!r}")
    return f"sha256/{sha256[:2]}/{sha256}"


def _file_chunks(stream: BinaryIO, start: int, stop: int) -> Iterator[bytes]:
    with stream:
        stream.seek(start)
        remaining = stop - start
        while remaining > 0 and (chunk := stream.read(min(CHUNK, remaining))):
            remaining -= len(chunk)
            yield chunk


class LocalBlobStore:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)

    def path(self, sha256: str) -> str:
        return os.path.join(self.root, *_key(sha256).split("/"))

    def put(self, spool: Spool, content_type: str = "application/zip") -> bool:
        spool.close()
        target = self.path(spool.sha256)
        if os.path.exists(target):
            spool.discard()
            return False
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.replace(spool.path, target)  # the spool lives on the same disk: a rename
        except OSError:
            shutil.move(spool.path, target)
        return True

    def open(self, sha256: str, byte_range: ByteRange | None = None) -> Blob:
        stream = open(self.path(sha256), "rb")  # a missing blob fails here, before the answer starts
        start, stop = byte_range or (0, os.fstat(stream.fileno()).st_size)
        return Blob(size=stop - start, chunks=_file_chunks(stream, start, stop))

    def exists(self, sha256: str) -> bool:
        return os.path.exists(self.path(sha256))

    def delete(self, sha256: str) -> None:
        try:
            os.unlink(self.path(sha256))
        except FileNotFoundError:
            pass


class S3BlobStore:
    """Any S3-compatible object storage (AWS S3, MinIO, Ceph...)."""

    # `client` is a boto3 S3 client, or one like it in tests: boto3 has no types to name it by
    def __init__(self, bucket: str, endpoint_url: str | None = None, prefix: str = "packages/", client: Any = None):
        import boto3

        self.bucket = bucket
        self.prefix = prefix
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url or None)

    def key(self, sha256: str) -> str:
        return self.prefix + _key(sha256)

    def put(self, spool: Spool, content_type: str = "application/zip") -> bool:
        spool.close()
        try:
            if self.exists(spool.sha256):
                return False
            # upload_file streams the file in parts; it never reads it into memory whole.
            self.client.upload_file(spool.path, self.bucket, self.key(spool.sha256), ExtraArgs={"ContentType": content_type})
            return True
        finally:
            spool.discard()

    def open(self, sha256: str, byte_range: ByteRange | None = None) -> Blob:
        ranged = {"Range": f"bytes={byte_range[0]}-{byte_range[1] - 1}"} if byte_range else {}
        answer = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256), **ranged)
        body = answer["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return Blob(size=answer["ContentLength"], chunks=chunks())

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))


def read_blob(store: BlobStore, sha256: str, limit: int) -> bytes:
    """A small blob whole (a source map), or ValueError when it is over `limit` bytes."""
    blob = store.open(sha256)
    if blob.size > limit:
        close = getattr(blob.chunks, "close", None)
        if close:
            close()
        raise ValueError(f"the blob {sha256} is {blob.size} bytes, over the limit of {limit}")
    return b"".join(blob.chunks)


def spool_directory(settings: Settings) -> str:
    return os.path.join(os.path.abspath(settings.data_dir), "catalog", "uploads")


def blob_store_for(settings: Settings) -> BlobStore:
    if settings.blob_store == "local":
        return LocalBlobStore(os.path.join(os.path.abspath(settings.data_dir), "catalog", "blobs"))
    if settings.blob_store == "s3":
        return S3BlobStore(settings.s3_bucket, settings.s3_endpoint_url)
    raise SystemExit(f"configuration error: MPDP_BLOB_STORE must be 'local' or 's3', not {settings.blob_store!r}")
