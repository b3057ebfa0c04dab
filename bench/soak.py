"""Staying power: mixed load through the gateway for a bounded time, then the memory of every
platform process at start and end and the count of errors. A process that grows beyond the
bound, or any error, makes the run fail.

    .venv/bin/python bench/soak.py [--seconds 600] [--clients 4] [--growth-mib 64] [--short]

Each client loops over what people do all day: read who they are, create a workspace, list its
members, create a mini program, list mini programs, invite someone. Events flow behind every
create (memberships, read models), so relays and consumers are soaked too.
"""

from __future__ import annotations

import argparse
import os
import secrets
import threading
import time
from collections import Counter
from pathlib import Path

from _platform import arguments, descendants, figures, running_platform

STEP_TIMEOUT = 10


def _describe(pid: int) -> tuple[str, int] | None:
    try:
        command = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        status = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return None
    rss_kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return command, rss_kib


def memory(root_pid: int) -> dict[str, int]:
    """RSS in KiB by process, named by its command line (gunicorn workers numbered by pid order)."""
    seen: Counter[str] = Counter()
    result = {}
    for pid in (pid for pid in descendants(root_pid) if pid != root_pid):
        described = _describe(pid)
        if described is None:
            continue
        command, rss = described
        name = " ".join(part for part in command.split() if not part.startswith("/"))[:80] or command[:80]
        seen[name] += 1
        result[f"{name} #{seen[name]}" if seen[name] > 1 else name] = rss
    return result


def client_loop(gateway: str, stop: threading.Event, outcomes: Counter, errors: list[str], lock: threading.Lock) -> None:
    from tests.integration.client import Client

    user = Client(gateway).new_account(f"soak{secrets.token_hex(3)}")
    while not stop.is_set():
        steps = [
            ("me", lambda: user.get("/api/v1/me")),
            ("create workspace", lambda: user.post("/api/v1/workspaces", json={"name": f"Soak {secrets.token_hex(3)}", "kind": "tenant"})),
        ]
        for name, step in steps:
            _record(name, step, outcomes, errors, lock)
        workspaces = user.get("/api/v1/workspaces").json().get("items", [])
        if not workspaces:
            continue
        # The oldest: its membership has long arrived (a brand-new one is settling for a moment).
        _workspace_round(user, workspaces[0]["id"], outcomes, errors, lock)


def _workspace_round(user, ws: str, outcomes: Counter, errors: list[str], lock: threading.Lock) -> None:
    base = f"/api/v1/workspaces/{ws}"
    invitee = {"email": f"{secrets.token_hex(4)}@example.com", "role": "developer"}
    for name, step in [
        ("members", lambda: user.get(f"{base}/members")),
        ("create mini program", lambda: user.post(f"{base}/miniprograms", json={"name": f"Soak {secrets.token_hex(4)}"})),
        ("mini programs", lambda: user.get(f"{base}/miniprograms")),
        ("invite", lambda: user.post(f"{base}/invitations", json=invitee)),
    ]:
        _record(name, step, outcomes, errors, lock)


def _record(name, step, outcomes: Counter, errors: list[str], lock: threading.Lock) -> None:
    try:
        response = step()
        ok = response.status_code < 400
        # A membership arrives by event a moment after the workspace: 404/403 just after a create is not an error.
        settling = response.status_code in (403, 404) and name in ("members", "create mini program", "mini programs", "invite")
        detail = f"{name}: {response.status_code} {response.text[:200]}"
    except Exception as error:  # a refused connection or a timeout is an error like any other
        ok, settling, detail = False, False, f"{name}: {error!r}"
    with lock:
        outcomes[name if ok else f"{name} (settling)" if settling else f"{name} FAILED"] += 1
        if not ok and not settling:
            errors.append(detail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--growth-mib", type=float, default=64, help="largest RSS growth allowed for any process")
    args = arguments(parser, seconds=5, clients=2)
    with running_platform(MPDP_RATE_LIMIT_PER_CLIENT="1000000/minute", MPDP_RATE_LIMIT_PER_TOKEN="1000000/minute") as platform:
        root = platform.process.pid
        outcomes: Counter = Counter()
        errors: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()
        threads = [
            threading.Thread(target=client_loop, args=(platform.gateway, stop, outcomes, errors, lock), daemon=True)
            for _ in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        time.sleep(min(30.0, args.seconds / 5))  # warm: caches filled, every worker has served
        before = memory(root)
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            time.sleep(min(30.0, args.seconds))
            with lock:
                done = sum(outcomes.values())
            print(f"  {time.monotonic() - started:6.0f} s  {done} requests  {len(errors)} errors", flush=True)
        after = memory(root)
        stop.set()
        for thread in threads:
            thread.join(STEP_TIMEOUT * 2)

    print(f"\nsoak: {args.seconds:.0f} s, {args.clients} clients, {sum(outcomes.values())} requests")
    for name, count in sorted(outcomes.items()):
        print(f"  {name:32s} {count}")
    print(f"\n  {'process':80s} {'start MiB':>9s} {'end MiB':>9s} {'growth':>8s}")
    worst = 0.0
    for name in sorted(before):
        if name in after:
            growth = (after[name] - before[name]) / 1024
            worst = max(worst, growth)
            print(f"  {name:80s} {before[name] / 1024:9.1f} {after[name] / 1024:9.1f} {growth:+8.1f}")
    print(f"\n  errors: {len(errors)}; largest growth {worst:+.1f} MiB (bound {args.growth_mib} MiB)")
    for line in errors[:20]:
        print(f"    {line}")
    figures("soak", seconds=args.seconds, requests=sum(outcomes.values()), errors=len(errors), largest_growth_mib=worst)
    if errors or worst > args.growth_mib:
        raise SystemExit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
