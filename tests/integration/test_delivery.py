"""Delivery to host apps through the gateway: requests signed with an app key, what each user
runs (released, a stable grayscale share, pilot for testers), packages with ETag and Range."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from urllib.parse import urlencode

import requests

from .conftest import eventually
from .test_catalog import Team, make_package, team, upload  # noqa: F401 - team is a fixture
from .test_launches import approved_launch, launch_path, new_app, released_launch


class HostApp:
    """A host app as the contract describes it: every request signed with its key's secret."""

    def __init__(self, base: str, key_id: str, secret: str):
        self.base, self.key_id, self.secret = base, key_id, secret
        self.http = requests.Session()

    def headers(self, method: str, path: str, query: str, *, timestamp: int | None = None, secret: str | None = None) -> dict:
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        message = f"{timestamp}\n{method}\n{path}\n{query}".encode()
        signature = hmac.new((secret or self.secret).encode(), message, hashlib.sha256).hexdigest()
        return {"X-MPDP-Key": self.key_id, "X-MPDP-Timestamp": timestamp, "X-MPDP-Signature": signature}

    def get(self, path: str, params: dict | None = None, headers: dict | None = None, **signing) -> requests.Response:
        query = urlencode(params or {})
        signed = self.headers("GET", path, query, **signing) | (headers or {})
        return self.http.get(self.base + path + (f"?{query}" if query else ""), headers=signed, timeout=10)

    def miniprograms(self, user_id: str, **kwargs) -> requests.Response:
        return self.get("/client/v1/miniprograms", {"user_id": user_id}, **kwargs)

    def versions(self, user_id: str) -> dict[str, str]:
        answer = self.miniprograms(user_id)
        assert answer.status_code == 200, answer.text
        return {item["miniprogram_id"]: item["version"] for item in answer.json()["items"]}


def host_app(team: Team, app_id: str) -> HostApp:
    """A key of the app, once the catalog has heard of it."""
    created = team.admin.post(f"{team.base}/apps/{app_id}/keys", json={"label": "phones"})
    assert created.status_code == 201, created.text
    app = HostApp(team.admin.base, created.json()["key_id"], created.json()["secret"])
    app.key = created.json()  # type: ignore[attr-defined]
    eventually(lambda: app.miniprograms("warm-up").status_code == 200)
    return app


def new_version(team: Team, version: str, package: bytes) -> str:
    answer = upload(team.developer, team.ws, team.mp, version, package)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def about(reached: int, users: int, share: float) -> bool:
    """Whether `reached` of `users` is the share a fair hash gives, within five standard
    deviations of the binomial: a wrong share fails, chance alone almost never does."""
    return abs(reached / users - share) < 5 * math.sqrt(share * (1 - share) / users)


def test_released_and_grayscale_versions_with_packages(team):
    app_id, other_app_id = new_app(team), new_app(team)
    phones, other_phones = host_app(team, app_id), host_app(team, other_app_id)
    package = make_package(extra={"assets/big.bin": bytes(range(256)) * 64})
    v1 = new_version(team, "1.0.0", package)
    v2 = new_version(team, "2.0.0", make_package(pages=("pages/home/home",)))
    assert phones.versions("ada") == {}

    released_launch(team, v1, app_id)
    eventually(lambda: phones.versions("ada") == {team.mp: "1.0.0"})
    answer = phones.miniprograms("ada")
    [item] = answer.json()["items"]
    assert item["sha256"] == hashlib.sha256(package).hexdigest() and item["name"]
    # A key of another app never sees this app's launches or packages.
    assert other_phones.versions("ada") == {}
    assert other_phones.get(item["package_url"]).status_code == 404

    # The list answers 304 while it has not changed.
    assert phones.miniprograms("ada", headers={"If-None-Match": answer.headers["ETag"]}).status_code == 304

    # The package: exact bytes, its ETag, and a resumed download.
    download = phones.get(item["package_url"])
    assert download.status_code == 200 and download.content == package
    assert phones.get(item["package_url"], headers={"If-None-Match": download.headers["ETag"]}).status_code == 304
    resumed = phones.get(item["package_url"], headers={"Range": "bytes=1000-"})
    assert resumed.status_code == 206 and resumed.content == package[1000:]
    assert resumed.headers["Content-Range"] == f"bytes 1000-{len(package) - 1}/{len(package)}"

    # A grayscale reaches its share of users, the same users every time, and more as it grows.
    grayscale = approved_launch(team, v2, app_id)
    assert team.developer.post(launch_path(team, grayscale["id"], "publish"), json={"percentage": 30}).status_code == 200
    users = [f"user-{number}" for number in range(400)]
    eventually(lambda: any(phones.versions(user) == {team.mp: "2.0.0"} for user in users[:40]))
    at_30 = {user for user in users if phones.versions(user) == {team.mp: "2.0.0"}}
    assert about(len(at_30), len(users), 0.30), len(at_30)
    assert {user for user in users[:50] if phones.versions(user) == {team.mp: "2.0.0"}} == at_30 & set(users[:50])
    assert all(phones.versions(user) == {team.mp: "1.0.0"} for user in set(users[:60]) - at_30)

    assert team.developer.post(launch_path(team, grayscale["id"], "publish"), json={"percentage": 60}).status_code == 200
    eventually(lambda: len({user for user in users[:60] if phones.versions(user) == {team.mp: "2.0.0"}}) > len(at_30 & set(users[:60])))
    at_60 = {user for user in users if phones.versions(user) == {team.mp: "2.0.0"}}
    assert at_30 <= at_60 and about(len(at_60), len(users), 0.60), len(at_60)

    assert team.developer.post(launch_path(team, grayscale["id"], "publish"), json={"percentage": 100}).status_code == 200
    eventually(lambda: all(phones.versions(user) == {team.mp: "2.0.0"} for user in users[:20]))
    # The archived version is no longer delivered.
    assert phones.get(item["package_url"]).status_code == 404


def test_pilot_versions_reach_only_testers(team):
    settings = team.admin.get(f"{team.base}/settings").json()
    body = {name: settings[name] for name in ("logo_url", "favicon_url", "about_us_url", "terms_of_service_url", "domains")}
    assert team.admin.put(f"{team.base}/settings", json=body | {"tester_whitelist_enabled": True}).status_code == 200
    app_id = new_app(team)
    phones = host_app(team, app_id)
    pilot = approved_launch(team, new_version(team, "0.9.0", make_package()), app_id)
    assert pilot["status"] == "pilot"
    assert team.developer.put(f"{team.base}/miniprograms/{team.mp}/testers", json={"user_ids": ["tess"]}).status_code == 200
    eventually(lambda: phones.versions("tess") == {team.mp: "0.9.0"})
    assert phones.versions("ada") == {}
    assert team.developer.put(f"{team.base}/miniprograms/{team.mp}/testers", json={"user_ids": ["ada"]}).status_code == 200
    assert phones.versions("ada") == {team.mp: "0.9.0"} and phones.versions("tess") == {}


def test_the_console_checks_what_a_user_would_get_without_the_apps_key(team):
    settings = team.admin.get(f"{team.base}/settings").json()
    body = {name: settings[name] for name in ("logo_url", "favicon_url", "about_us_url", "terms_of_service_url", "domains")}
    assert team.admin.put(f"{team.base}/settings", json=body | {"tester_whitelist_enabled": True}).status_code == 200
    app_id = new_app(team)
    phones = host_app(team, app_id)
    pilot = approved_launch(team, new_version(team, "0.9.0", make_package()), app_id)
    assert team.developer.put(f"{team.base}/miniprograms/{team.mp}/testers", json={"user_ids": ["tess"]}).status_code == 200
    check = f"{team.base}/apps/{app_id}/delivery"
    eventually(lambda: phones.versions("tess") == {team.mp: "0.9.0"})
    # the same answer as the app's own signed request, for each user
    for user in ("tess", "ada"):
        assert team.developer.get(check, params={"user_id": user}).json() == phones.miniprograms(user).json()
    [item] = team.reviewer.get(check, params={"user_id": "tess"}).json()["items"]
    assert (item["version"], item["channel"]) == ("0.9.0", pilot["status"])
    # a developer sees only the mini programs assigned to them
    assert team.other_developer.get(check, params={"user_id": "tess"}).json() == {"items": []}
    assert team.developer.get(check).status_code == 422
    assert team.developer.get(check, params={"user_id": "tess", "host_version": "eight"}).status_code == 422
    assert team.developer.get(f"{team.base}/apps/no-such-app/delivery", params={"user_id": "tess"}).status_code == 404


def test_signatures_are_checked(team):
    app_id = new_app(team)
    phones = host_app(team, app_id)
    assert phones.miniprograms("ada").status_code == 200

    def refused(answer: requests.Response) -> bool:
        return answer.status_code == 401 and answer.headers["Content-Type"] == "application/problem+json"

    assert refused(phones.miniprograms("ada", secret="not the secret"))
    # Beyond the five minutes allowed, with room for the second that int() drops and the request takes.
    assert refused(phones.miniprograms("ada", timestamp=int(time.time()) - 305))
    assert refused(phones.miniprograms("ada", timestamp=int(time.time()) + 305))
    assert phones.miniprograms("ada", timestamp=int(time.time()) - 240).status_code == 200
    # The query is signed: another user's answer cannot be asked with this signature.
    signed = phones.headers("GET", "/client/v1/miniprograms", urlencode({"user_id": "ada"}))
    assert refused(requests.get(phones.base + "/client/v1/miniprograms?user_id=eve", headers=signed, timeout=10))
    assert refused(requests.get(phones.base + "/client/v1/miniprograms?user_id=ada", timeout=10))
    unknown = HostApp(phones.base, "mak_" + "0" * 24, phones.secret)
    assert refused(unknown.miniprograms("ada"))
    assert phones.miniprograms("").status_code == 422

    # A revoked key stops working within a second.
    assert team.admin.delete(f"{team.base}/apps/{app_id}/keys/{phones.key['id']}").status_code == 204
    started = time.monotonic()
    eventually(lambda: refused(phones.miniprograms("ada")), timeout=1.0, interval=0.05)
    assert time.monotonic() - started < 1.0


def test_signing_headers_that_no_key_could_have_sent_are_401s(team):
    """Sent as raw bytes, as a broken or hostile client would: not ASCII, other scripts' digits, huge."""
    phones = host_app(team, new_app(team))
    path, query = "/client/v1/miniprograms", urlencode({"user_id": "ada"})
    signed = phones.headers("GET", path, query)
    eastern_digits = "".join(chr(0x0660 + int(digit)) for digit in signed["X-MPDP-Timestamp"])  # int() takes them
    for header, value in (
        ("X-MPDP-Signature", "é".encode() + signed["X-MPDP-Signature"].encode()[2:]),
        ("X-MPDP-Signature", "ü".encode("latin-1") * 64),
        ("X-MPDP-Signature", b"f" * 8000),
        ("X-MPDP-Timestamp", eastern_digits.encode()),
        ("X-MPDP-Timestamp", b"9" * 5000),
        ("X-MPDP-Key", phones.key_id.encode() + "é".encode()),
        ("X-MPDP-Key", b"k" * 8000),
    ):
        answer = requests.get(f"{phones.base}{path}?{query}", headers={**signed, header: value}, timeout=10)
        assert answer.status_code == 401, (header, value[:20], answer.status_code, answer.text[:200])
        assert answer.headers["Content-Type"] == "application/problem+json"
    assert requests.get(f"{phones.base}{path}?{query}", headers=phones.headers("GET", path, query), timeout=10).status_code == 200
    # Ingest names its key alone, unsigned.
    for key in (phones.key_id.encode() + "é".encode(), "é".encode("latin-1"), b"k" * 8000):
        answer = requests.post(f"{phones.base}/ingest/v1/events", json={"events": []}, headers={"X-MPDP-Key": key}, timeout=10)
        assert answer.status_code == 401, (key[:20], answer.status_code, answer.text[:200])
