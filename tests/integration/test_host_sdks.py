"""The host integration kit against the real platform: the Python kit (sdk/python) in this
process, the TypeScript kit (sdk/js, its ESM build) in Node; each signs delivery, lists what a
user runs with If-None-Match, downloads and resumes a package and verifies it, sends analytics
that the console then counts, and gives the DSN the console shows."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from mpdp_host import AuthenticationError, Backoff, HostClient, PackageIntegrityError, ValidationError

from .conftest import eventually
from .test_catalog import Team, make_package, team  # noqa: F401 - team is a fixture
from .test_delivery import host_app, new_version
from .test_launches import new_app, released_launch

ROOT = Path(__file__).resolve().parents[2]
SDK_JS = ROOT / "sdk" / "js"


@dataclass
class Kit:
    """A host app with a key, a released version of the team's mini program, and its DSN."""

    team: Team
    gateway: str
    app_id: str
    key_id: str
    secret: str
    package: bytes
    telemetry_id: int
    dsn: str


@pytest.fixture
def kit(platform, team) -> Kit:
    app_id = new_app(team)
    phones = host_app(team, app_id)
    package = make_package(extra={"assets/big.bin": os.urandom(256 * 1024)})  # bytes that do not compress
    released_launch(team, new_version(team, "1.0.0", package), app_id)
    eventually(lambda: phones.versions("ada") == {team.mp: "1.0.0"})
    path = f"{team.base}/miniprograms/{team.mp}/dsn?app_id={app_id}"
    dsn = eventually(lambda: (lambda answer: answer.json()["dsn"] if answer.status_code == 200 else None)(team.admin.get(path)), timeout=20)
    telemetry_id = team.admin.get(f"{team.base}/miniprograms/{team.mp}").json()["telemetry_id"]
    eventually(lambda: team.reviewer.get(f"{team.base}/analytics/overview?miniprogram_id={team.mp}").status_code == 200, timeout=20)
    return Kit(team, platform.gateway, app_id, phones.key_id, phones.secret, package, telemetry_id, dsn)


def page_views(kit: Kit) -> int:
    today = datetime.now(UTC).date().isoformat()
    query = {"miniprogram_id": kit.team.mp, "from": today, "to": today}
    answer = kit.team.admin.get(f"{kit.team.base}/analytics/overview", params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()["totals"]["page_views"]


def counted(kit: Kit, views: int) -> None:
    """Waits until the console counts `views` page views, never more."""

    def check() -> bool:
        seen = page_views(kit)
        assert seen <= views, seen
        return seen == views

    eventually(check, timeout=60, interval=0.3)


def test_the_python_kit_against_the_platform(kit, tmp_path):
    statuses: list[tuple[int, str | None]] = []
    http = requests.Session()
    http.hooks["response"].append(lambda answer, *_, **__: statuses.append((answer.status_code, answer.request.headers.get("Range"))))
    client = HostClient(kit.gateway, kit.key_id, kit.secret, host_version="8.2.0", cache_dir=tmp_path, session=http)

    [item] = client.miniprograms("ada")
    assert (item.miniprogram_id, item.version, item.sha256) == (kit.team.mp, "1.0.0", hashlib.sha256(kit.package).hexdigest())
    assert client.miniprograms("ada") == [item] and statuses[-1][0] == 304

    # A download that stopped at 100,000 bytes is resumed from there.
    part = client.package_path(item).with_suffix(".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(kit.package[:100_000])
    assert client.download(item).read_bytes() == kit.package
    assert statuses[-1] == (206, "bytes=100000-")
    assert client.download(item) == client.package_path(item)  # from the cache
    assert not any(path.suffix == ".part" for path in tmp_path.rglob("*"))

    # A package whose sha256 is not the announced one is never kept.
    forged = dataclasses.replace(item, sha256=hashlib.sha256(b"another").hexdigest())
    with pytest.raises(PackageIntegrityError):
        client.download(forged)
    assert not client.package_path(forged).exists()

    with pytest.raises(ValidationError) as refused:
        client.miniprograms("ada", host_version="eight")
    assert "host_version" in refused.value.errors
    wrong = HostClient(kit.gateway, kit.key_id, "not the secret", cache_dir=tmp_path, backoff=Backoff(attempts=1))
    with pytest.raises(AuthenticationError) as unauthorized:
        wrong.miniprograms("ada")
    assert unauthorized.value.status == 401 and "not the secret" not in str(unauthorized.value)

    assert client.sentry_dsn(kit.telemetry_id) == kit.dsn

    analytics = client.analytics(batch_size=4)
    for user in ("anna", "ben"):
        session = analytics.session(kit.team.mp, "1.0.0", user)
        session.app_launch(duration_ms=700)
        session.page_view("pages/home/home", duration_ms=1500)
        session.page_view("pages/cart/cart")
        session.track("add_to_cart", {"sku": "A1"})
        session.end(duration_ms=30_000)
    assert analytics.flush() == 10 and analytics.stats.batches == 3 and len(analytics) == 0
    analytics.flush()
    counted(kit, 4)


NODE_HOST = textwrap.dedent(
    """
    // A Node host using the kit's ESM build: what it saw, as one line of JSON.
    const [kitUrl, nodeUrl, baseUrl, keyId, secret, miniprogramId, telemetryId, folder, head] = process.argv.slice(2);
    const { HostClient, PackageIntegrityError, AuthenticationError, sha256Hex } = await import(kitUrl);
    const { FileStorage } = await import(nodeUrl);
    const storage = new FileStorage(folder);
    const client = new HostClient({ baseUrl, keyId, secret, hostVersion: "8.2.0", storage });
    const ranges = [];
    const seen = [];
    const watched = new HostClient({
      baseUrl, keyId, secret, hostVersion: "8.2.0", storage,
      fetch: async (url, init) => {
        const answer = await fetch(url, init);
        seen.push(answer.status);
        if (init?.headers?.Range) ranges.push([init.headers.Range, answer.status]);
        return answer;
      },
    });
    const [item] = await watched.miniprograms("ada");
    const again = await watched.miniprograms("ada");
    // A download that stopped after `head` bytes, kept in the storage, is resumed.
    const whole = new Uint8Array(Buffer.from(head, "base64"));
    await storage.set(`part:${item.miniprogram_id}:${item.version}:${item.sha256}`, whole);
    const bytes = await watched.download(item);
    let forged = "kept";
    try {
      await client.download({ ...item, sha256: "0".repeat(64) });
    } catch (error) {
      forged = error instanceof PackageIntegrityError ? "refused" : String(error);
    }
    let wrong = "accepted";
    try {
      await new HostClient({ baseUrl, keyId, secret: "not the secret" }).miniprograms("ada");
    } catch (error) {
      wrong = error instanceof AuthenticationError ? `${error.status}` : String(error);
    }
    const analytics = client.analytics({ batchSize: 3 });
    for (const user of ["cleo", "dave", "erin"]) {
      const session = analytics.session(miniprogramId, "1.0.0", user);
      session.appLaunch(900);
      session.pageView("pages/home/home", 2000);
      session.end(45000);
    }
    const accepted = await analytics.flush();
    console.log(JSON.stringify({
      item, again: again[0].sha256 === item.sha256, statuses: seen, ranges, sha256: await sha256Hex(bytes),
      size: bytes.length, forged, wrong, accepted, batches: analytics.stats.batches, dsn: client.sentryDsn(telemetryId),
    }));
    """
)


@pytest.fixture(scope="session")
def sdk_js_build() -> Path:
    """The TypeScript kit built from its current sources; make does nothing when the build is fresh."""
    subprocess.run(["make", "--no-print-directory", "-s", "sdk-js"], cwd=ROOT, check=True)
    return SDK_JS / "dist"


def test_the_typescript_kit_in_node_against_the_platform(kit, sdk_js_build, tmp_path):
    import base64

    script = tmp_path / "host.mjs"
    script.write_text(NODE_HOST)
    arguments = [
        (sdk_js_build / "esm" / "index.js").as_uri(),
        (sdk_js_build / "esm" / "node.js").as_uri(),
        kit.gateway,
        kit.key_id,
        kit.secret,
        kit.team.mp,
        str(kit.telemetry_id),
        str(tmp_path / "storage"),
        base64.b64encode(kit.package[:50_000]).decode(),
    ]
    done = subprocess.run(["node", str(script), *arguments], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["item"]["version"] == "1.0.0" and seen["again"] and seen["statuses"][:2] == [200, 304]
    assert seen["ranges"] == [["bytes=50000-", 206]]
    assert (seen["sha256"], seen["size"]) == (hashlib.sha256(kit.package).hexdigest(), len(kit.package))
    assert (seen["forged"], seen["wrong"]) == ("refused", "401")
    assert (seen["accepted"], seen["batches"]) == (9, 3)
    assert seen["dsn"] == kit.dsn and kit.secret not in done.stdout + done.stderr
    counted(kit, 3)
