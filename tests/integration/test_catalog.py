"""The catalog through the gateway: mini programs, versions and packages, testers, JSAPIs,
features, and who may do what."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime

import pytest
import requests

from mpdp_common.apikeys import new_api_key

from .client import Client
from .conftest import eventually, listening

# -- packages -------------------------------------------------------------------------------------


def make_package(pages=("pages/index/index", "pages/about/about"), extra: dict | None = None, manifest=None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.json", json.dumps(manifest if manifest is not None else {"pages": list(pages)}))
        for page in pages:
            archive.writestr(f"{page}.js", f"Page({{ name: {json.dumps(page)} }})")
            archive.writestr(f"{page}.wxml", "<view>hello</view>")
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _deflate(raw: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(raw) + compressor.flush()


def zip_bomb(entries: int = 100, entry_mib: int = 100) -> bytes:
    """10 GiB of zeros when unpacked, about 10 MB packed: one deflate stream, written by hand many times."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros, chunks, crc = b"\0" * (1 << 20), [], 0
    for _ in range(entry_mib):
        chunks.append(compressor.compress(zeros))
        crc = zlib.crc32(zeros, crc)
    data = b"".join(chunks) + compressor.flush()
    manifest, script = json.dumps({"pages": ["index"]}).encode(), b"Page({})"
    files = [
        ("app.json", _deflate(manifest), zlib.crc32(manifest), len(manifest)),
        ("index.js", _deflate(script), zlib.crc32(script), len(script)),
    ]
    files += [(f"assets/zero-{index}.bin", data, crc, entry_mib << 20) for index in range(entries)]
    body, central = b"", b""
    for name, deflated, checksum, size in files:
        encoded, offset = name.encode(), len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, checksum, len(deflated), size, len(encoded), 0) + encoded + deflated
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0,
                checksum,
                len(deflated),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    return body + central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(files), len(files), len(central), len(body), 0)


def upload(user: Client, ws: str, mp: str, version: str, package: bytes | None = None, **form) -> requests.Response:
    files = {"package": ("package.zip", make_package() if package is None else package, "application/zip")}
    return user.post(f"/api/v1/workspaces/{ws}/miniprograms/{mp}/versions", files=files, data={"version": version, **form})


# -- a workspace with one member of each kind -----------------------------------------------------


@dataclass
class Team:
    ws: str
    mp: str
    admin: Client
    reviewer: Client
    developer: Client
    other_developer: Client
    stranger: Client

    @property
    def base(self) -> str:
        return f"/api/v1/workspaces/{self.ws}"


def join(admin: Client, user: Client, ws: str, role: str, miniprogram_ids=()) -> None:
    invited = admin.post(
        f"/api/v1/workspaces/{ws}/invitations",
        json={"email": user.account["email"], "role": role, "miniprogram_ids": list(miniprogram_ids)},
    )
    assert invited.status_code == 201, invited.text
    assert user.post(f"/api/v1/invitations/{invited.json()['token']}/accept").status_code == 200


def new_miniprogram(admin: Client, ws: str, name: str | None = None) -> dict:
    created = eventually(lambda: admin.post(f"/api/v1/workspaces/{ws}/miniprograms", json={"name": name or f"Shop {secrets.token_hex(3)}"}))
    assert created.status_code == 201, created.text
    return created.json()


@pytest.fixture
def team(make_user, make_workspace) -> Team:
    admin, reviewer, developer = make_user("admin"), make_user("reviewer"), make_user("developer")
    other_developer, stranger = make_user("other-dev"), make_user("stranger")
    ws = make_workspace(admin)
    mp = new_miniprogram(admin, ws)["id"]
    join(admin, reviewer, ws, "reviewer", [mp])
    join(admin, developer, ws, "developer")
    join(admin, other_developer, ws, "developer")
    # The catalog learns of members by events: the assignment succeeds once it has.
    eventually(lambda: admin.put(f"/api/v1/workspaces/{ws}/miniprograms/{mp}/developers", json={"account_ids": [developer.account["id"]]}))
    eventually(lambda: reviewer.get(f"/api/v1/workspaces/{ws}/miniprograms/{mp}"))
    eventually(lambda: other_developer.get(f"/api/v1/workspaces/{ws}/miniprograms").status_code == 200)
    return Team(ws, mp, admin, reviewer, developer, other_developer, stranger)


@pytest.fixture
def catalog_events(platform):
    """Everything the catalog published while the test ran, by type."""
    with listening(platform, "catalog") as drain:
        seen: list[dict] = []

        def received(event_type: str) -> list[dict]:
            seen.extend(drain())
            return [item for item in seen if item["type"] == event_type]

        yield received


def publish_event(platform, producer: str, event_type: str, workspace_id: str, payload: dict) -> None:
    envelope = {
        "id": secrets.token_hex(16),
        "type": event_type,
        "version": 1,
        "occurred_at": "2026-11-25T10:00:00Z",
        "producer": producer,
        "workspace_id": workspace_id,
        "aggregate_id": None,
        "correlation_id": None,
        "payload": payload,
    }
    platform.publish(producer, json.dumps(envelope).encode(), event_type)


def api_key(platform, ws: str, role: str, created_by: str) -> str:
    """A workspace API key that `created_by` made, announced the way the workspace service does."""
    token, digest = new_api_key()
    publish_event(
        platform,
        "workspace",
        "workspace.api_key.created",
        ws,
        {
            "api_key_id": secrets.token_hex(16),
            "workspace_id": ws,
            "role": role,
            "token_hash": digest,
            "revoked_at": None,
            "created_by": created_by,
        },
    )
    return token


def stored_blobs(platform) -> set[str]:
    root = platform.workdir / "catalog" / "blobs"
    return {name for _dirs, _subdirs, files in os.walk(root) for name in files}


def spooled_files(platform) -> list[str]:
    root = platform.workdir / "catalog" / "uploads"
    return os.listdir(root) if root.exists() else []


# -- mini programs --------------------------------------------------------------------------------


def test_miniprogram_create_list_patch_and_event(team, catalog_events):
    created = new_miniprogram(team.admin, team.ws, "Coffee")
    assert created["status"] == "draft" and created["name"] == "Coffee" and created["description"] == ""
    assert created["created_at"].endswith("Z")
    assert team.admin.post(f"{team.base}/miniprograms", json={"name": "Coffee"}).status_code == 409
    assert team.admin.post(f"{team.base}/miniprograms", json={"name": ""}).status_code == 422

    patched = team.admin.patch(f"{team.base}/miniprograms/{created['id']}", json={"description": "Order coffee"})
    assert patched.status_code == 200 and patched.json()["description"] == "Order coffee"

    # Admins and reviewers see every mini program; developers only those assigned to them.
    assert {item["id"] for item in team.admin.get(f"{team.base}/miniprograms").json()["items"]} == {team.mp, created["id"]}
    assert {item["id"] for item in team.reviewer.get(f"{team.base}/miniprograms").json()["items"]} == {team.mp, created["id"]}
    assert [item["id"] for item in team.developer.get(f"{team.base}/miniprograms").json()["items"]] == [team.mp]
    assert team.other_developer.get(f"{team.base}/miniprograms").json()["items"] == []
    assert team.other_developer.get(f"{team.base}/miniprograms/{created['id']}").status_code == 404

    event = eventually(lambda: [e for e in catalog_events("catalog.miniprogram.created") if e["aggregate_id"] == created["id"]])[0]
    assert event["workspace_id"] == team.ws and event["producer"] == "catalog"
    assert isinstance(created["telemetry_id"], int) and created["telemetry_id"] > 0
    assert created["telemetry_id"] != team.admin.get(f"{team.base}/miniprograms/{team.mp}").json()["telemetry_id"]
    assert event["payload"] == {
        "miniprogram_id": created["id"],
        "telemetry_id": created["telemetry_id"],
        "workspace_id": team.ws,
        "name": "Coffee",
        "created_by": team.admin.account["id"],
    }


def test_developers_must_be_active_members(team):
    path = f"{team.base}/miniprograms/{team.mp}/developers"
    refused = team.admin.put(path, json={"account_ids": [team.stranger.account["id"]]})
    assert refused.status_code == 422 and "account_ids" in refused.json()["errors"]
    both = [team.developer.account["id"], team.other_developer.account["id"]]
    assigned = team.admin.put(path, json={"account_ids": both}).json()["account_ids"]
    assert set(assigned) == {*both, team.reviewer.account["id"]}  # the reviewer's assignment came with the invitation
    assert team.other_developer.get(f"{team.base}/miniprograms/{team.mp}").status_code == 200
    assert team.admin.put(path, json={"account_ids": [team.developer.account["id"]]}).status_code == 200
    assert team.other_developer.get(f"{team.base}/miniprograms/{team.mp}").status_code == 404

    # A blocked member cannot be assigned.
    assert team.admin.post(f"{team.base}/members/{team.other_developer.account['id']}/block").status_code == 200
    eventually(lambda: team.admin.put(path, json={"account_ids": both}).status_code == 422)


def test_an_invitation_assigns_its_miniprograms(team, make_user):
    newcomer = make_user("newcomer")
    join(team.admin, newcomer, team.ws, "developer", [team.mp, "not-a-miniprogram"])
    got = eventually(lambda: newcomer.get(f"{team.base}/miniprograms/{team.mp}"))
    assert newcomer.account["id"] in got.json()["developer_ids"]
    assert upload(newcomer, team.ws, team.mp, "0.0.1").status_code == 201


# -- versions -------------------------------------------------------------------------------------


def test_upload_list_and_download_the_exact_bytes(team, catalog_events, platform):
    package = make_package(extra={"assets/logo.png": os.urandom(50_000)})
    uploaded = upload(team.developer, team.ws, team.mp, "1.0.0", package, notes="first")
    assert uploaded.status_code == 201, uploaded.text
    version = uploaded.json()
    assert version["version"] == "1.0.0" and version["status"] == "uploaded" and version["size"] == len(package)
    assert version["sha256"] == hashlib.sha256(package).hexdigest()
    assert version["uploaded_by"] == team.developer.account["id"] and version["created_at"].endswith("Z")
    assert version["entry_page"] == "pages/index/index" and version["notes"] == "first"

    base = f"{team.base}/miniprograms/{team.mp}/versions"
    assert [item["id"] for item in team.reviewer.get(base).json()["items"]] == [version["id"]]
    assert team.reviewer.get(f"{base}/{version['id']}").json() == version
    downloaded = team.reviewer.get(f"{base}/{version['id']}/package")
    assert downloaded.status_code == 200 and downloaded.content == package
    assert downloaded.headers["Content-Type"] == "application/zip"
    assert downloaded.headers["ETag"] == f'"{version["sha256"]}"'
    not_modified = team.reviewer.get(f"{base}/{version['id']}/package", headers={"If-None-Match": downloaded.headers["ETag"]})
    assert not_modified.status_code == 304
    assert team.reviewer.get(f"{base}/nope/package").status_code == 404

    # A version number is never reused; the same bytes as another version are stored once.
    again = upload(team.admin, team.ws, team.mp, "1.0.0", make_package())
    assert again.status_code == 409 and again.headers["Content-Type"] == "application/problem+json"
    assert upload(team.admin, team.ws, team.mp, "1.0.1", package).status_code == 201
    assert version["sha256"] in stored_blobs(platform)

    event = eventually(lambda: [e for e in catalog_events("catalog.version.uploaded") if e["aggregate_id"] == version["id"]])[0]
    # The event has the upload time to the microsecond, the API to the second.
    uploaded_at = datetime.fromisoformat(event["payload"].pop("uploaded_at"))
    assert uploaded_at.replace(microsecond=0) == datetime.fromisoformat(version["created_at"])
    assert event["payload"] == {
        "version_id": version["id"],
        "miniprogram_id": team.mp,
        "workspace_id": team.ws,
        "version": "1.0.0",
        "sha256": version["sha256"],
        "size": len(package),
        "uploaded_by": team.developer.account["id"],
    }


def test_a_version_says_which_files_it_adds_removes_and_changes_from_another(team):
    first = upload(team.developer, team.ws, team.mp, "1.0.0", make_package(extra={"assets/logo.svg": "<svg/>", "old.txt": "bye"}))
    second = upload(
        team.developer,
        team.ws,
        team.mp,
        "1.1.0",
        make_package(pages=("pages/index/index",), extra={"assets/logo.svg": "<svg></svg>", "new.txt": "hi"}),
    )
    assert first.status_code == second.status_code == 201
    path = f"{team.base}/miniprograms/{team.mp}/versions/{second.json()['id']}/changes"
    changes = team.reviewer.get(path, params={"from": first.json()["id"]})  # a reviewer judges it
    assert changes.status_code == 200, changes.text
    assert changes.json() == {
        "version_id": second.json()["id"],
        "from_version_id": first.json()["id"],
        "files_added": ["new.txt"],
        "files_removed": ["old.txt", "pages/about/about.js", "pages/about/about.wxml"],
        "files_changed": ["app.json", "assets/logo.svg"],
        "size_change": second.json()["size"] - first.json()["size"],
    }
    assert team.reviewer.get(path).status_code == 422
    assert team.reviewer.get(path, params={"from": "no-such-version"}).status_code == 404
    assert team.other_developer.get(path, params={"from": first.json()["id"]}).status_code == 404


def test_bad_packages_are_refused_and_leave_nothing_behind(team, platform):
    before = stored_blobs(platform)
    base = f"{team.base}/miniprograms/{team.mp}/versions"
    cases = [
        ("text named .zip", "2.0.0", b"this is not a zip at all\n", 422, "not a zip"),
        ("path traversal", "2.0.0", make_package(extra={"../../etc/passwd": "root:x:0:0"}), 422, "outside the package"),
        ("absolute path", "2.0.0", make_package(extra={"/etc/passwd": "root:x:0:0"}), 422, "absolute"),
        ("zip bomb", "2.0.0", zip_bomb(), 422, "zip bomb"),
        ("missing manifest", "2.0.0", make_package(manifest={"name": "no pages"}), 422, "pages"),
        (
            "page without js",
            "2.0.0",
            make_package(manifest={"pages": ["pages/index/index", "pages/gone/gone"]}),
            422,
            "pages/gone/gone",
        ),
        ("not semver", "1.0", make_package(), 422, "semantic version"),
        ("not semver either", "v1.0.0", make_package(), 422, "semantic version"),
    ]
    # The zip bomb is bigger than the workspace's default limit: the limit is raised so that the
    # package itself is judged (the catalog hears of the new limit a moment later).
    assert team.admin.put(f"{team.base}/settings", json={"package_size_limit_bytes": 20 * 1024 * 1024}).status_code == 200
    eventually(lambda: upload(team.developer, team.ws, team.mp, "2.0.0", zip_bomb()).status_code == 422)
    for label, version, package, status, words in cases:
        response = upload(team.developer, team.ws, team.mp, version, package)
        assert response.status_code == status, (label, response.text[:300])
        assert response.headers["Content-Type"] == "application/problem+json", label
        assert words in json.dumps(response.json()), (label, response.json())

    missing_file = team.developer.post(base, files={"other": ("x.zip", make_package(), "application/zip")}, data={"version": "2.0.0"})
    assert missing_file.status_code == 422 and "package" in missing_file.json()["errors"]
    as_json = team.developer.post(base, json={"version": "2.0.0"})
    assert as_json.status_code == 415

    too_big = team.developer.post(
        base, files={"package": ("big.zip", b"\0" * (51 * 1024 * 1024), "application/zip")}, data={"version": "2.0.0"}
    )
    assert too_big.status_code == 413 and too_big.headers["Content-Type"] == "application/problem+json"

    assert team.developer.get(base).json()["items"] == []
    assert stored_blobs(platform) == before
    assert eventually(lambda: spooled_files(platform) == [])


# -- testers --------------------------------------------------------------------------------------


def test_testers_whitelist(team):
    path = f"{team.base}/miniprograms/{team.mp}/testers"
    assert team.developer.put(path, json={"user_ids": ["u1", "u2", "u1"]}).json() == {"user_ids": ["u1", "u2"]}
    assert team.reviewer.get(path).json() == {"user_ids": ["u1", "u2"]}
    too_many = team.admin.put(path, json={"user_ids": [f"user-{index}" for index in range(101)]})
    assert too_many.status_code == 422 and "user_ids" in too_many.json()["errors"]
    assert team.admin.put(path, json={"user_ids": [f"user-{index}" for index in range(100)]}).status_code == 200
    assert len(team.developer.get(path).json()["user_ids"]) == 100


# -- JSAPIs and features --------------------------------------------------------------------------


SCAN_PARAMETERS = {
    "type": "object",
    "properties": {"formats": {"type": "array", "items": {"type": "string"}}},
    "required": ["formats"],
}


def new_jsapi(admin: Client, ws: str, **fields) -> dict:
    body = {
        "name": f"scan{secrets.token_hex(3)}",
        "description": "Scan a code",
        "platforms": ["ios", "android"],
        "parameters": SCAN_PARAMETERS,
    }
    created = admin.post(f"/api/v1/workspaces/{ws}/jsapis", json=body | fields)
    assert created.status_code == 201, created.text
    return created.json()


def new_feature(admin: Client, ws: str, **fields) -> dict:
    body = {
        "name": f"feature {secrets.token_hex(3)}",
        "description": "d",
        "activation": "direct",
        "visible_to_all": True,
        "jsapi_ids": [],
    }
    created = admin.post(f"/api/v1/workspaces/{ws}/features", json=body | fields)
    assert created.status_code == 201, created.text
    return created.json()


def test_jsapis_need_a_valid_json_schema(team):
    jsapi = new_jsapi(team.admin, team.ws)
    assert jsapi["parameters"] == SCAN_PARAMETERS and jsapi["platforms"] == ["ios", "android"]
    bad_schema = team.admin.post(f"{team.base}/jsapis", json={"name": "bad", "platforms": ["ios"], "parameters": {"type": "banana"}})
    assert bad_schema.status_code == 422 and "parameters" in bad_schema.json()["errors"]
    not_object = team.admin.post(f"{team.base}/jsapis", json={"name": "bad", "platforms": ["ios"], "parameters": [1]})
    assert not_object.status_code == 422
    assert team.admin.post(f"{team.base}/jsapis", json={"name": "bad", "platforms": ["symbian"]}).status_code == 422
    odd_dialect = team.admin.post(f"{team.base}/jsapis", json={"name": "bad", "platforms": ["ios"], "parameters": {"$schema": 5}})
    assert odd_dialect.status_code == 422 and "parameters" in odd_dialect.json()["errors"]
    assert team.admin.post(f"{team.base}/jsapis", json={"name": jsapi["name"], "platforms": ["ios"]}).status_code == 409

    path = f"{team.base}/jsapis/{jsapi['id']}"
    assert team.admin.patch(path, json={"parameters": {"minimum": "zero"}}).status_code == 422
    patched = team.admin.patch(path, json={"platforms": ["android"], "parameters": None})
    assert patched.status_code == 200 and patched.json()["platforms"] == ["android"] and patched.json()["parameters"] is None
    assert team.developer.get(path).json()["platforms"] == ["android"]
    assert [item["id"] for item in team.developer.get(f"{team.base}/jsapis").json()["items"]] == [jsapi["id"]]


def test_features_keep_their_history_and_stay_in_their_workspace(team, make_user, make_workspace):
    scan = new_jsapi(team.admin, team.ws)
    pay = new_jsapi(team.admin, team.ws)
    elsewhere_admin = make_user("elsewhere")
    elsewhere = make_workspace(elsewhere_admin)
    foreign = eventually(
        lambda: elsewhere_admin.post(f"/api/v1/workspaces/{elsewhere}/jsapis", json={"name": "foreign", "platforms": ["ios"]})
    ).json()

    crossed = team.admin.post(
        f"{team.base}/features",
        json={"name": "crossed", "description": "", "activation": "direct", "jsapi_ids": [scan["id"], foreign["id"]]},
    )
    assert crossed.status_code == 422 and foreign["id"] in crossed.json()["errors"]["jsapi_ids"][0]
    assert team.admin.get(f"{team.base}/features").json()["items"] == []

    feature = new_feature(team.admin, team.ws, name="Payments", activation="approval", jsapi_ids=[scan["id"]])
    assert feature["revision"] == 1 and feature["activation"] == "approval" and feature["visible_to_all"] is True
    path = f"{team.base}/features/{feature['id']}"
    assert team.admin.patch(path, json={"jsapi_ids": [foreign["id"]]}).status_code == 422
    changed = team.admin.patch(path, json={"jsapi_ids": [scan["id"], pay["id"]], "description": "Pay", "activation": "approval"})
    assert changed.status_code == 200 and changed.json()["revision"] == 2
    assert team.admin.patch(path, json={"description": "Pay"}).json()["revision"] == 2  # nothing changed, no revision

    history = team.reviewer.get(f"{path}/history").json()
    assert [item["revision"] for item in history["items"]] == [1, 2] and history["next_cursor"] is None
    first, second = history["items"]
    assert first["changed_by"] == team.admin.account["id"] and first["changed_at"].endswith("Z")
    assert first["changes"]["name"] == {"old": None, "new": "Payments"}
    assert second["changes"] == {
        "jsapi_ids": {"old": [scan["id"]], "new": [scan["id"], pay["id"]]},
        "description": {"old": "d", "new": "Pay"},
    }
    page = team.reviewer.get(f"{path}/history?limit=1").json()
    assert (
        len(page["items"]) == 1
        and team.reviewer.get(f"{path}/history?limit=1&cursor={page['next_cursor']}").json()["items"][0]["revision"] == 2
    )
    for cursor in ("x", "%C2%B2", "9" * 20):  # a superscript digit; past PostgreSQL's integer
        refused = team.reviewer.get(f"{path}/history?cursor={cursor}")
        assert refused.status_code == 422 and "cursor" in refused.json()["errors"], refused.text

    hidden = new_feature(team.admin, team.ws, visible_to_all=False)
    assert hidden["id"] not in {item["id"] for item in team.developer.get(f"{team.base}/features").json()["items"]}
    assert team.developer.get(f"{team.base}/features/{hidden['id']}").status_code == 404
    assert team.reviewer.get(f"{team.base}/features/{hidden['id']}").status_code == 200


def test_features_only_in_tenant_workspaces(platform, make_user):
    owner = make_user("isv")
    ws = secrets.token_hex(16)
    publish_event(
        platform,
        "workspace",
        "workspace.workspace.created",
        ws,
        {
            "workspace_id": ws,
            "name": "ISV",
            "kind": "developer",
            "parent_id": secrets.token_hex(16),
            "created_by": owner.account["id"],
        },
    )
    body = {"name": "x", "description": "", "activation": "direct", "jsapi_ids": []}
    refused = eventually(
        lambda: [answer for answer in [owner.post(f"/api/v1/workspaces/{ws}/features", json=body)] if answer.status_code == 409]
    )
    assert "tenant" in refused[0].json()["detail"]
    assert new_miniprogram(owner, ws)["status"] == "draft"


def test_feature_activation_direct_and_by_approval(team, catalog_events):
    direct = new_feature(team.admin, team.ws)
    gated = new_feature(team.admin, team.ws, activation="approval")
    gated_too = new_feature(team.admin, team.ws, activation="approval")
    path = f"{team.base}/miniprograms/{team.mp}/features"

    active = team.developer.post(path, json={"feature_id": direct["id"]})
    assert active.status_code == 201 and active.json()["feature_id"] == direct["id"] and active.json()["status"] == "active"
    assert team.developer.post(path, json={"feature_id": direct["id"]}).status_code == 409
    assert team.developer.post(path, json={"feature_id": "no-such-feature"}).status_code == 404

    pending = team.developer.post(path, json={"feature_id": gated["id"]}).json()
    assert pending["status"] == "pending_approval"
    rejected_one = team.admin.post(path, json={"feature_id": gated_too["id"]}).json()
    requested = eventually(
        lambda: [e for e in catalog_events("catalog.feature.activation_requested") if e["aggregate_id"] == pending["request_id"]]
    )
    miniprogram_name = team.admin.get(f"{team.base}/miniprograms/{team.mp}").json()["name"]
    assert requested[0]["payload"] == {
        "request_id": pending["request_id"],
        "workspace_id": team.ws,
        "title": f"Feature {gated['name']} for {miniprogram_name}",
        "subject": {"kind": "feature_activation", "id": pending["request_id"]},
        "requested_by": team.developer.account["id"],
        "miniprogram_id": team.mp,
        "feature_id": gated["id"],
    }

    def approval(request_id: str) -> dict:
        """Opened by the approval service from the catalog's event."""
        return eventually(
            lambda: [
                item
                for item in team.reviewer.get(f"{team.base}/approvals", params={"type": "feature"}).json()["items"]
                if item["subject"] == {"kind": "feature_activation", "id": request_id}
            ]
        )[0]

    def statuses() -> dict:
        return {item["feature_id"]: item["status"] for item in team.reviewer.get(path).json()["items"]}

    assert approval(pending["request_id"])["title"] == f"Feature {gated['name']} for {miniprogram_name}"
    approved = team.reviewer.post(f"{team.base}/approvals/{approval(pending['request_id'])['id']}/approve", json={})
    assert approved.status_code == 200
    rejected = team.reviewer.post(f"{team.base}/approvals/{approval(rejected_one['request_id'])['id']}/reject", json={"comment": "no"})
    assert rejected.status_code == 200
    eventually(lambda: statuses() == {direct["id"]: "active", gated["id"]: "active", gated_too["id"]: "rejected"})
    # A rejected request may be made again; withdrawn by its applicant, it is as if never made.
    again = team.developer.post(path, json={"feature_id": gated_too["id"]}).json()
    assert again["status"] == "pending_approval"
    withdrawn = team.developer.post(f"{team.base}/approvals/{approval(again['request_id'])['id']}/withdraw")
    assert withdrawn.status_code == 200
    eventually(lambda: gated_too["id"] not in statuses())


# -- who may do what ------------------------------------------------------------------------------

ROLES = ("admin", "reviewer", "developer", "other_developer", "stranger")


def _endpoints(team: Team, version_id: str, jsapi_id: str, feature_id: str):
    mp = f"{team.base}/miniprograms/{team.mp}"
    counter = iter(range(10, 1000))
    return [
        # method, path, request kwargs (a callable: fresh ones per call), expected status per role;
        # a mini program not assigned to the caller is answered 404, like one that does not exist
        (
            "POST",
            f"{team.base}/miniprograms",
            lambda: {"json": {"name": f"mp {secrets.token_hex(4)}"}},
            (201, 403, 403, 403, 404),
        ),
        ("GET", f"{team.base}/miniprograms", dict, (200, 200, 200, 200, 404)),
        ("GET", mp, dict, (200, 200, 200, 404, 404)),
        ("PATCH", mp, lambda: {"json": {"description": "x"}}, (200, 403, 403, 403, 404)),
        ("PUT", f"{mp}/developers", lambda: {"json": {"account_ids": [team.developer.account["id"]]}}, (200, 403, 403, 403, 404)),
        ("GET", f"{mp}/developers", dict, (200, 200, 200, 404, 404)),
        (
            "POST",
            f"{mp}/versions",
            lambda: {
                "files": {"package": ("p.zip", make_package(), "application/zip")},
                "data": {"version": f"3.0.{next(counter)}"},
            },
            (201, 403, 201, 404, 404),
        ),
        ("GET", f"{mp}/versions", dict, (200, 200, 200, 404, 404)),
        ("GET", f"{mp}/versions/{version_id}", dict, (200, 200, 200, 404, 404)),
        ("GET", f"{mp}/versions/{version_id}/package", dict, (200, 200, 200, 404, 404)),
        ("PUT", f"{mp}/testers", lambda: {"json": {"user_ids": ["u1"]}}, (200, 403, 200, 404, 404)),
        ("GET", f"{mp}/testers", dict, (200, 200, 200, 404, 404)),
        (
            "POST",
            f"{team.base}/jsapis",
            lambda: {"json": {"name": f"api{secrets.token_hex(4)}", "platforms": ["ios"]}},
            (201, 403, 403, 403, 404),
        ),
        ("GET", f"{team.base}/jsapis", dict, (200, 200, 200, 200, 404)),
        ("GET", f"{team.base}/jsapis/{jsapi_id}", dict, (200, 200, 200, 200, 404)),
        ("PATCH", f"{team.base}/jsapis/{jsapi_id}", lambda: {"json": {"description": "y"}}, (200, 403, 403, 403, 404)),
        (
            "POST",
            f"{team.base}/features",
            lambda: {"json": {"name": f"f {secrets.token_hex(4)}", "description": "", "activation": "direct", "jsapi_ids": [jsapi_id]}},
            (201, 403, 403, 403, 404),
        ),
        ("GET", f"{team.base}/features", dict, (200, 200, 200, 200, 404)),
        ("GET", f"{team.base}/features/{feature_id}", dict, (200, 200, 200, 200, 404)),
        (
            "PATCH",
            f"{team.base}/features/{feature_id}",
            lambda: {"json": {"description": secrets.token_hex(4)}},
            (200, 403, 403, 403, 404),
        ),
        ("GET", f"{team.base}/features/{feature_id}/history", dict, (200, 200, 200, 200, 404)),
        (
            "POST",
            f"{mp}/features",
            lambda: {"json": {"feature_id": new_feature(team.admin, team.ws)["id"]}},
            (201, 403, 201, 404, 404),
        ),
        ("GET", f"{mp}/features", dict, (200, 200, 200, 404, 404)),
    ]


def test_each_role_against_each_endpoint(team, platform):
    version_id = upload(team.admin, team.ws, team.mp, "0.1.0").json()["id"]
    jsapi_id = new_jsapi(team.admin, team.ws)["id"]
    feature_id = new_feature(team.admin, team.ws, jsapi_ids=[jsapi_id])["id"]
    failures = []
    for method, path, kwargs, expected in _endpoints(team, version_id, jsapi_id, feature_id):
        for role, status in zip(ROLES, expected, strict=True):
            answer = getattr(team, role).request(method, path, **kwargs())
            if answer.status_code != status:
                failures.append(f"{role} {method} {path}: {answer.status_code}, expected {status}: {answer.text[:200]}")
            elif status >= 400:
                assert answer.headers["Content-Type"] == "application/problem+json"
        anonymous = requests.request(method, platform.gateway + path, timeout=30, **kwargs())
        if anonymous.status_code != 401:
            failures.append(f"anonymous {method} {path}: {anonymous.status_code}")
    assert not failures, "\n".join(failures)


def test_a_blocked_member_is_refused(team):
    assert team.admin.post(f"{team.base}/members/{team.developer.account['id']}/block").status_code == 200
    eventually(lambda: team.developer.get(f"{team.base}/miniprograms/{team.mp}").status_code == 403, timeout=2)
    assert upload(team.developer, team.ws, team.mp, "9.9.9").status_code == 403


def test_workspace_api_keys_upload_for_ci(team, platform):
    admin_id = team.admin.account["id"]
    developer_key = api_key(platform, team.ws, "developer", admin_id)
    reviewer_key = api_key(platform, team.ws, "reviewer", admin_id)
    as_ci = Client(platform.gateway, developer_key)
    uploaded = eventually(lambda: upload(as_ci, team.ws, team.mp, "4.0.0"))
    assert uploaded.json()["uploaded_by"] == admin_id  # a key acts for the admin who made it
    as_reviewer = Client(platform.gateway, reviewer_key)
    eventually(lambda: as_reviewer.get(f"{team.base}/miniprograms/{team.mp}"))
    assert upload(as_reviewer, team.ws, team.mp, "4.0.1").status_code == 403
    assert Client(platform.gateway, "mpdp_ak_not-a-key").get(f"{team.base}/miniprograms").status_code == 401


def test_a_workspace_just_created_takes_a_mini_program_in_the_next_request(gateway_in_each_mode):
    admin, stranger = Client(gateway_in_each_mode).new_account("admin"), Client(gateway_in_each_mode).new_account("stranger")
    for attempt in range(15):
        created = admin.post("/api/v1/workspaces", json={"name": f"Acme {attempt}", "kind": "tenant"})
        assert created.status_code == 201, created.text
        ws = created.json()["id"]
        miniprogram = admin.post(f"/api/v1/workspaces/{ws}/miniprograms", json={"name": "Shop"})
        assert miniprogram.status_code == 201, (attempt, miniprogram.text)
        assert admin.get(f"/api/v1/workspaces/{ws}/miniprograms/{miniprogram.json()['id']}").status_code == 200
    # Someone else's new workspace, and one that does not exist, are still 404, at once.
    for workspace_id in (ws, secrets.token_hex(16)):
        started = time.monotonic()
        refused = stranger.post(f"/api/v1/workspaces/{workspace_id}/miniprograms", json={"name": "Mine"})
        assert refused.status_code == 404 and refused.json()["detail"] == "No such workspace."
        assert time.monotonic() - started < 1.0


def test_catalog_is_in_the_merged_openapi(client):
    document = client.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/workspaces/{ws}/miniprograms",
        "/api/v1/workspaces/{ws}/miniprograms/{mp}/versions",
        "/api/v1/workspaces/{ws}/features/{feature_id}/history",
    ):
        assert path in document["paths"]
    upload_body = document["paths"]["/api/v1/workspaces/{ws}/miniprograms/{mp}/versions"]["post"]["requestBody"]
    assert "multipart/form-data" in upload_body["content"]
