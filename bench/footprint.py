"""What the platform costs to keep running: its processes, the memory each really uses (PSS:
resident memory, with pages shared between processes divided among them) and its PostgreSQL
connections, idle and after a load.

The platform is started as `make run` starts it in real mode: every service's web processes
(`MPDP_WEB_WORKERS`, `MPDP_WEB_THREADS` as their defaults), relay, consumer and workers, the log
at INFO. The load signs people up, makes workspaces, mini programs and host apps and reads their
lists, `--requests` requests in all from `--clients` threads, through the gateway.

    .venv/bin/python bench/footprint.py [--requests 3000] [--clients 8] [--settle 10] [--short]
"""

from __future__ import annotations

import argparse
import re
import time
from collections import defaultdict

import psycopg
from _platform import arguments, concurrently, descendants, figures, running_platform

#: `make run`'s settings where the test platform's differ
MAKE_RUN = {
    "MPDP_WEB_WORKERS": "2",
    "MPDP_WEB_THREADS": "8",
    "MPDP_LOG_LEVEL": "INFO",
    "MPDP_PASSWORD_HASH_TIME_COST": "3",
    "MPDP_PASSWORD_HASH_MEMORY_KIB": "65536",
}


def pss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            found = re.search(r"^Pss:\s+(\d+) kB", rollup.read(), re.MULTILINE)
    except OSError:
        return 0.0
    return int(found.group(1)) / 1024 if found else 0.0


def role_of(pid: int) -> str | None:
    """'catalog web', 'catalog jobs', 'telemetry work folder', ... from the process's command line."""
    try:
        with open(f"/proc/{pid}/cmdline") as cmdline:
            words = cmdline.read().split("\0")
    except OSError:
        return None
    if "mpdp_common.launcher" not in words:
        return "supervisor" if any(word.endswith("mpdpctl") for word in words) else None
    command = words[words.index("mpdp_common.launcher") + 1 :]
    command = [word for word in command if word]
    if len(command) < 2:
        return "supervisor"
    if command[:1] == ["web"]:
        return f"{command[1]} web"
    if command[:1] == ["consume"]:
        return f"{command[1]} consumer"
    return " ".join([command[1], command[0], *command[2:]])


def footprint(root: int) -> dict[str, list[float]]:
    """PSS (MiB) of every process of the platform, by role; a web role's master and workers together."""
    found: dict[str, list[float]] = defaultdict(list)
    roles: dict[int, str] = {}
    for pid in descendants(root):
        role = role_of(pid)
        if role is None:
            # a gunicorn worker: its command line is its master's, which is its parent
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            role = roles.get(parent)
            if role is None:
                continue
        roles[pid] = role
        found[role].append(pss_mib(pid))
    return found


def connections(database: str, prefix: str) -> dict[str, int]:
    """The platform's open PostgreSQL connections, by database."""
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://") + "/postgres", autocommit=True) as connection:
        rows = connection.execute("SELECT datname, count(*) FROM pg_stat_activity WHERE datname LIKE %s GROUP BY datname", (f"{prefix}%",))
        return {name.removeprefix(prefix).strip("_"): count for name, count in rows}


def show(title: str, found: dict[str, list[float]], open_connections: dict[str, int]) -> tuple[int, float]:
    processes = sum(len(values) for values in found.values())
    total = sum(sum(values) for values in found.values())
    print(f"{title}: {processes} processes, {total:,.0f} MiB PSS, {sum(open_connections.values())} PostgreSQL connections")
    for role in sorted(found):
        values = found[role]
        print(f"  {role:28s} {len(values):2d} x  {sum(values):7.1f} MiB   ({', '.join(f'{value:.0f}' for value in values)})")
    print("  connections: " + ", ".join(f"{name} {count}" for name, count in sorted(open_connections.items())))
    return processes, total


def load(gateway: str, total: int, clients: int) -> float:
    """Sign-ups, workspaces, mini programs, host apps and their lists, through the gateway."""
    from tests.integration.client import Client
    from tests.integration.conftest import eventually

    people = [Client(gateway).new_account(f"footprint{index}") for index in range(clients)]
    workspaces = [
        person.post("/api/v1/workspaces", json={"name": f"Footprint {n}", "kind": "tenant"}).json()["id"] for n, person in enumerate(people)
    ]
    # the catalog hears of a new workspace a moment later
    for person, ws in zip(people, workspaces, strict=True):
        eventually(lambda person=person, ws=ws: person.get(f"/api/v1/workspaces/{ws}/miniprograms").status_code == 200)

    def call(session, worker: int, number: int) -> None:
        headers = {"Authorization": f"Bearer {people[worker].token}"}
        base = f"{gateway}/api/v1/workspaces/{workspaces[worker]}"
        kind = number % 4
        if kind == 0:
            answer = session.post(f"{base}/miniprograms", json={"name": f"Mini {worker}-{number}"}, headers=headers, timeout=30)
        elif kind == 1:
            body = {"name": f"App {worker}-{number}", "platforms": ["ios"], "bundle_id": f"com.example.a{worker}x{number}"}
            answer = session.post(f"{base}/apps", json=body, headers=headers, timeout=30)
        else:
            answer = session.get(f"{base}/{'miniprograms' if kind == 2 else 'apps'}", headers=headers, timeout=30)
        assert answer.status_code < 300, answer.text

    rate, _ = concurrently(call, total, clients)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds the idle platform is left alone before measuring")
    args = arguments(parser, requests=200, clients=4, settle=2.0)
    with running_platform(**MAKE_RUN) as platform:
        assert platform.process is not None, "the benchmark starts its own platform"
        time.sleep(args.settle)
        idle_connections = connections(platform.database, platform.prefix)
        idle_processes, idle_total = show("idle", footprint(platform.process.pid), idle_connections)
        rate = load(platform.gateway, args.requests, args.clients)
        time.sleep(args.settle)
        loaded = footprint(platform.process.pid)
        loaded_connections = connections(platform.database, platform.prefix)
        _, loaded_total = show(f"after {args.requests} requests ({rate:.0f}/s)", loaded, loaded_connections)
    figures(
        "footprint",
        processes=idle_processes,
        idle_pss_mib=idle_total,
        loaded_pss_mib=loaded_total,
        idle_connections=sum(idle_connections.values()),
        loaded_connections=sum(loaded_connections.values()),
        largest_process_mib=max(value for values in loaded.values() for value in values),
        requests_per_s=rate,
    )


if __name__ == "__main__":
    main()
