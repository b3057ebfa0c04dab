"""The spool and the blob stores: content-addressed, streamed, nothing left behind."""

from __future__ import annotations

import hashlib
import os

import pytest
from werkzeug.exceptions import RequestEntityTooLarge

from mpdp_catalog.blobs import LocalBlobStore, S3BlobStore, Spool


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
    with pytest.raises(RequestEntityTooLarge):
        small.write(b"x")
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
    assert blob.size == len(content) and b"".join(blob.chunks) == content and blob.path == store.path(sha)
    assert store.exists(sha)
    store.delete(sha)
    assert not store.exists(sha)
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


@pytest.fixture
def s3(monkeypatch):
    moto_server = pytest.importorskip("moto.server")
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="packages")
    yield endpoint
    server.stop()


def test_the_s3_store_streams_both_ways(tmp_path, s3):
    store = S3BlobStore("packages", s3)
    content = os.urandom(9 * 1024 * 1024)  # over boto3's multipart threshold
    spool = spooled(tmp_path / "uploads", content, limit=10 * 1024 * 1024)
    sha = spool.sha256
    assert store.put(spool) is True
    assert not os.path.exists(spool.path)
    assert store.put(spooled(tmp_path / "uploads", content, limit=10 * 1024 * 1024)) is False
    assert os.listdir(tmp_path / "uploads") == []
    blob = store.open(sha)
    assert blob.size == len(content) and blob.path is None
    assert hashlib.sha256(b"".join(blob.chunks)).hexdigest() == sha
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
