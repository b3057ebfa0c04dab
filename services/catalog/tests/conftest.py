"""The catalog app through the shared unit-test harness, on either blob store, and a workspace
ready for launches."""

from __future__ import annotations

import pytest

from mpdp_catalog.models import MiniProgram, Version
from mpdp_catalog.service import service
from mpdp_common.db import session_scope
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


WS, APP = "w1", "app1"
BASE = f"/api/v1/workspaces/{WS}/miniprograms/mp1"


@pytest.fixture
def catalog(harness):
    """A workspace with an app, a key, and a mini program with two versions, as the events and uploads leave them."""
    harness.deliver(
        "workspace.workspace.created", {"workspace_id": WS, "name": "Acme", "kind": "tenant", "parent_id": None, "created_by": "ada"}
    )
    for account, role in (("ada", "admin"), ("rex", "reviewer"), ("dev", "developer")):
        harness.member(WS, account, role)
    harness.deliver(
        "workspace.app.created",
        {"app_id": APP, "workspace_id": WS, "name": "Super", "platforms": ["ios"], "bundle_id": "b", "android_cert_fingerprints": []},
    )
    harness.deliver("workspace.app_key.created", {"id": "k", "key_id": "mak_1", "app_id": APP, "workspace_id": WS, "expires_at": None})
    with session_scope(harness.sessions) as session:
        session.add(MiniProgram(id="mp1", telemetry_id=1, workspace_id=WS, name="Shop", created_by="ada"))
        for number in ("1", "2"):
            session.add(
                Version(
                    id=f"v{number}",
                    miniprogram_id="mp1",
                    workspace_id=WS,
                    version=f"{number}.0.0",
                    size=10,
                    sha256=number * 64,
                    entry_page="index",
                    pages=["index"],
                    uploaded_by="dev",
                )
            )
    return harness
