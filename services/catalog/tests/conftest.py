"""The catalog app through the shared unit-test harness, on either blob store."""

from __future__ import annotations

import pytest

from mpdp_catalog.service import service
from mpdp_common.testing import Harness


@pytest.fixture
def harness(tmp_path):
    harness = Harness(service, tmp_path)
    yield harness
    harness.close()


@pytest.fixture
def s3_endpoint(monkeypatch):
    """An S3 endpoint in this process (moto's server) with an empty bucket `packages`."""
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


@pytest.fixture(params=["local", "s3"])
def harness_on_each_store(request, tmp_path):
    """The catalog keeping packages on the local disk, then in S3."""
    store = {}
    if request.param == "s3":
        store = {"blob_store": "s3", "s3_bucket": "packages", "s3_endpoint_url": request.getfixturevalue("s3_endpoint")}
    harness = Harness(service, tmp_path, **store)
    yield harness
    harness.close()
