"""The spool and the blob stores: content-addressed, streamed, nothing left behind."""

from __future__ import annotations

import hashlib
import os

import pytest

from mpdp_common.blobs import CHUNK, LocalBlobStore, S3BlobStore, Spool


def spooled(directory, content: bytes, limit: int = 1 << 20) -> Spool:
    spool = Spool(str(directory), limit)
    for start in range(0, len(content), 1000):
        spool.write(content[start : start + 1000])
    spool.flush()
    return spool


def test_the_spool_hashes_counts_and_caps(tmp_path):
    content = os.urandom(5000)
    spool = spooled(tmp_path / "uploads", content)
    assert spool.sha256 == hashlib.sha256(content).hexdigest() and spool.size == 5000
    spool.seek(0)
    assert spool.read() == content
    spool.discard()
    assert os.listdir(tmp_path / "uploads") == []

    small = Spool(str(tmp_path / "uploads"), 100)
    small.write(b"x" * 100)
    assert not small.over_limit
    small.write(b"y" * 50)  # counted, not kept
    assert small.over_limit and small.size == 150
    small.flush()
    assert os.path.getsize(small.path) == 100 and small.sha256 == hashlib.sha256(b"x" * 100).hexdigest()
    small.discard()


def test_the_local_store_is_content_addressed(tmp_path):
    store = LocalBlobStore(str(tmp_path / "blobs"))
    content = os.urandom(300_000)
    first = spooled(tmp_path / "uploads", content)
    assert store.put(first) is True
    assert not os.path.exists(first.path)
    again = spooled(tmp_path / "uploads", content)
    assert store.put(again) is False  # the same bytes are kept once
    assert os.listdir(tmp_path / "uploads") == []
    sha = hashlib.sha256(content).hexdigest()
    blob = store.open(sha)
    assert blob.size == len(content) and b"".join(blob.chunks) == content
    part = store.open(sha, (CHUNK - 10, CHUNK + 20))  # across a chunk's end
    assert part.size == 30 and b"".join(part.chunks) == content[CHUNK - 10 : CHUNK + 20]
    assert b"".join(store.open(sha, (len(content) - 5, len(content))).chunks) == content[-5:]
    assert store.exists(sha)
    store.delete(sha)
    assert not store.exists(sha)
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_the_s3_store_streams_both_ways(tmp_path, s3_endpoint):
    store = S3BlobStore("packages", s3_endpoint)
    content = os.urandom(9 * 1024 * 1024)  # over boto3's multipart threshold
    spool = spooled(tmp_path / "uploads", content, limit=10 * 1024 * 1024)
    sha = spool.sha256
    assert store.put(spool) is True
    assert not os.path.exists(spool.path)
    assert store.put(spooled(tmp_path / "uploads", content, limit=10 * 1024 * 1024)) is False
    assert os.listdir(tmp_path / "uploads") == []
    blob = store.open(sha)
    assert blob.size == len(content)
    assert hashlib.sha256(b"".join(blob.chunks)).hexdigest() == sha
    part = store.open(sha, (5_000_000, 5_000_100))
    assert part.size == 100 and b"".join(part.chunks) == content[5_000_000:5_000_100]
    store.delete(sha)
    assert not store.exists(sha)


def test_spools_left_by_a_killed_worker_are_swept_at_start(tmp_path):
    import os
    import time

    from mpdp_catalog.api_versions import STALE_SPOOL_SECONDS, sweep_stale_spools

    stale, fresh = tmp_path / "stale.part", tmp_path / "fresh.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = time.time() - STALE_SPOOL_SECONDS - 60
    os.utime(stale, (old, old))
    sweep_stale_spools(str(tmp_path))
    assert not stale.exists() and fresh.exists()
