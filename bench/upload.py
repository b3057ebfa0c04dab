"""Package uploads: throughput (MB/s) of a 20 MB package through the gateway against the catalog
service directly, and the catalog web processes' peak memory while they take it (RSS summed over
the gunicorn master and workers, sampled from /proc): the package must never be held in memory.

    .venv/bin/python bench/upload.py [--size-mb 20] [--rounds 5] [--short]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import zipfile

import requests
from _platform import arguments, figures, running_platform

from mpdp_cli.upload import MultipartBody


def build_package(path: str, size_mb: int) -> int:
    """A valid package whose bulk is one incompressible asset of `size_mb` MB (stored, not deflated)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.json", json.dumps({"pages": ["pages/index/index"]}))
        archive.writestr("pages/index/index.js", "Page({})")
        with archive.open(zipfile.ZipInfo("assets/blob.bin"), "w", force_zip64=True) as asset:
            for _ in range(size_mb):
                asset.write(os.urandom(1 << 20))
    return os.path.getsize(path)


def settings_event(workspace_id: str, package_size_limit_bytes: int) -> bytes:
    """`workspace.settings.updated` for a workspace that the bench made by its event alone."""
    payload = {
        "workspace_id": workspace_id,
        "revision": 1,
        "logo_url": None,
        "favicon_url": None,
        "service_email": None,
        "domains": {"primary": None, "alternatives": []},
        "tester_whitelist_enabled": False,
        "about_us_url": None,
        "terms_of_service_url": None,
        "package_size_limit_bytes": package_size_limit_bytes,
    }
    envelope = {
        "id": os.urandom(16).hex(),
        "type": "workspace.settings.updated",
        "version": 1,
        "occurred_at": "2026-11-25T10:00:00Z",
        "producer": "workspace",
        "workspace_id": workspace_id,
        "aggregate_id": workspace_id,
        "correlation_id": None,
        "payload": payload,
    }
    return json.dumps(envelope).encode()


def session_processes(session_id: int, marker: bytes) -> list[int]:
    """Processes of the platform's session whose command line contains `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as stream:
                command = stream.read()
            with open(f"/proc/{name}/stat") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if marker in command and int(fields[3]) == session_id:
            found.append(int(name))
    return found


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as stream:
                for line in stream:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class PeakSampler:
    def __init__(self, pids: list[int], interval: float = 0.01):
        self.pids, self.interval = pids, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pids))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pids))


def upload(base: str, token: str, ws: str, mp: str, version: str, package: str) -> float:
    body = MultipartBody({"version": version}, "package", package, "package.zip")
    started = time.perf_counter()
    response = requests.post(
        f"{base}/api/v1/workspaces/{ws}/miniprograms/{mp}/versions",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": body.content_type},
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text[:500]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = arguments(parser, size_mb=2, rounds=2)
    workdir = tempfile.mkdtemp(prefix="mpdp-bench-upload-")
    package = os.path.join(workdir, "package.zip")
    size = build_package(package, args.size_mb)

    with running_platform() as platform:
        from tests.integration.client import Client
        from tests.integration.conftest import eventually, workspace_created_event

        user = Client(platform.gateway).new_account("bench")
        ws = os.urandom(16).hex()
        platform.publish("workspace", workspace_created_event(ws, user.account["id"]), "workspace.workspace.created")
        # A package bigger than the default limit (8 MiB) needs the workspace's setting raised;
        # the catalog's consumer takes it in order, before the mini program below can be made.
        platform.publish("workspace", settings_event(ws, size + (1 << 20)), "workspace.settings.updated")
        mp = eventually(lambda: user.post(f"/api/v1/workspaces/{ws}/miniprograms", json={"name": "Bench"}), timeout=30).json()["id"]

        pids = session_processes(platform.process.pid, b"launcher\x00web\x00catalog")
        assert pids, "no catalog web process found"
        # Warm up both paths (imports, connections) before measuring.
        upload(platform.gateway, user.token, ws, mp, "0.0.1", package)
        upload(platform.url("catalog"), user.token, ws, mp, "0.0.2", package)
        idle = rss_bytes(pids)

        results = {}
        for label, base in (("gateway", platform.gateway), ("direct", platform.url("catalog"))):
            times = []
            with PeakSampler(pids) as sampler:
                for round_number in range(args.rounds):
                    times.append(upload(base, user.token, ws, mp, f"1.{len(results)}.{round_number}", package))
            results[label] = (times, sampler.peak)

    mb = size / 1e6
    print(f"package: {mb:.1f} MB, {args.rounds} uploads per path, catalog web processes {pids} (gunicorn master + {len(pids) - 1} worker)")
    print(f"catalog RSS when idle after warm-up: {idle / 1e6:.1f} MB")
    found = {"package_mb": mb, "idle_rss_mb": idle / 1e6}
    for label, (times, peak) in results.items():
        rates = [mb / elapsed for elapsed in times]
        print(
            f"{label:8s} median {statistics.median(rates):6.1f} MB/s  (best {max(rates):.1f}, worst {min(rates):.1f})  "
            f"median {statistics.median(times) * 1000:.0f} ms/upload  peak catalog RSS {peak / 1e6:.1f} MB "
            f"(+{(peak - idle) / 1e6:.1f} MB over idle)"
        )
        found.update(
            {
                f"{label}_mb_per_s": statistics.median(rates),
                f"{label}_ms_per_upload": statistics.median(times) * 1000,
                f"{label}_peak_rss_mb": peak / 1e6,
                f"{label}_rss_growth_mb": (peak - idle) / 1e6,
            }
        )
    ratio = statistics.median(results["gateway"][0]) / statistics.median(results["direct"][0])
    print(f"gateway/direct time ratio: {ratio:.2f}")
    print(
        "the package is not held in memory whole: peak growth over idle stays well under its size"
        if max(peak for _t, peak in results.values()) - idle < size / 2
        else "WARNING: memory grew by half the package or more"
    )
    os.unlink(package)
    os.rmdir(workdir)
    figures("upload", **found, time_ratio=ratio)


if __name__ == "__main__":
    main()
