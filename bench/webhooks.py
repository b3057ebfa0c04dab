"""Webhook fan-out: events of one workspace to 10 receivers, first all answering at once, then with
one of them hanging (it accepts the request and never answers). The other receivers' deliveries
should not notice: the figures are their time from the event to its arrival (p50, p99) and the
time until the last of them arrived, in both rounds, and what the hanging one cost.

The events are members' role changes (`member.changed`), made through the gateway: identity's
outbox, its relay, the broker, the workspace consumer (which queues one delivery per webhook),
the webhook worker (which signs and posts them). The receivers listen on 127.0.0.1, which the
platform is told to allow (`MPDP_WEBHOOK_ALLOWED_HOSTS`); every other setting is the default,
its 10 s timeout included.

    .venv/bin/python bench/webhooks.py [--events 1000] [--receivers 10] [--short]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _platform import arguments, figures, percentile, running_platform

#: members whose roles are changed, each by a thread of its own
MEMBERS = 4


class Receiver:
    """A loopback HTTP server noting when each delivery arrived, or (`hang`) never answering."""

    def __init__(self, hang: bool = False) -> None:
        self.hangs = hang
        self.arrivals: dict[str, float] = {}  # delivery id -> seconds from its event to its arrival
        self.attempts = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                arrived = time.time()
                with receiver.lock:
                    receiver.attempts += 1
                if hang:
                    receiver.stop.wait(60)
                    return
                sent = json.loads(body)
                occurred = datetime.fromisoformat(sent["occurred_at"].replace("Z", "+00:00")).timestamp()
                with receiver.lock:
                    receiver.arrivals.setdefault(sent["id"], arrived - occurred)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def change_roles(admin, ws: str, members: list[str], events: int) -> float:
    """`events` role changes, spread over the members; the seconds they took."""

    def toggle(account_id: str, count: int) -> None:
        for number in range(count):
            role = "reviewer" if number % 2 == 0 else "developer"
            answer = admin.patch(f"/api/v1/workspaces/{ws}/members/{account_id}", json={"role": role})
            assert answer.status_code == 200, answer.text

    started = time.perf_counter()
    threads = [threading.Thread(target=toggle, args=(account, events // len(members))) for account in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def one_round(admin, ws: str, members: list[str], events: int, receivers: list[Receiver], timeout: float) -> dict[str, float]:
    """A webhook per receiver, `events` role changes, and the deliveries to the receivers that answer."""
    hooks = []
    for receiver in receivers:
        created = admin.post(f"/api/v1/workspaces/{ws}/webhooks", json={"url": receiver.url, "events": ["member.changed"]})
        assert created.status_code == 201, created.text
        hooks.append(created.json()["id"])
    made = events // len(members) * len(members)
    started = time.perf_counter()
    changes = change_roles(admin, ws, members, made)
    answering = [receiver for receiver in receivers if not receiver.hangs]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(len(receiver.arrivals) < made for receiver in answering):
        time.sleep(0.05)
    all_in = time.perf_counter() - started
    delays = [delay for receiver in answering for delay in receiver.arrivals.values()]
    missing = sum(made - len(receiver.arrivals) for receiver in answering)
    for hook in hooks:  # the next round's webhooks alone
        assert admin.delete(f"/api/v1/workspaces/{ws}/webhooks/{hook}").status_code == 204
    return {
        "events": made,
        "deliveries": len(delays),
        "missing": missing,
        "changes_s": changes,
        "all_in_s": all_in,
        "p50_ms": percentile(delays, 0.5) * 1000 if delays else 0.0,
        "p99_ms": percentile(delays, 0.99) * 1000 if delays else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--receivers", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=300.0, help="the longest wait for a round's deliveries")
    args = arguments(parser, events=40, receivers=4, timeout=60.0)

    # The short run takes the shared test platform as it is (its webhook timeout is 3 s); the full
    # run, the defaults of `make run`.
    env = {} if args.short else {"MPDP_WEBHOOK_TIMEOUT_SECONDS": "10", "MPDP_WEBHOOK_RETRY_SECONDS": "60,300,900,1800,3600,7200"}
    from tests.integration.client import Client  # noqa: PLC0415 (after _platform put the repository on the path)
    from tests.integration.conftest import eventually  # noqa: PLC0415
    from tests.integration.test_catalog import join  # noqa: PLC0415

    with running_platform(**env) as platform:
        client = Client(platform.gateway)
        admin = client.new_account("admin")
        created = admin.post("/api/v1/workspaces", json={"name": "Webhook fan-out", "kind": "tenant"})
        assert created.status_code == 201, created.text
        ws = created.json()["id"]
        eventually(lambda: admin.get(f"/api/v1/workspaces/{ws}/members").status_code == 200, timeout=30)
        members = []
        for number in range(MEMBERS):
            member = client.new_account(f"member{number}")
            join(admin, member, ws, "developer")
            members.append(member.account["id"])

        healthy = [Receiver() for _ in range(args.receivers)]
        calm = one_round(admin, ws, members, args.events, healthy, args.timeout)
        for receiver in healthy:
            receiver.close()

        stuck = [Receiver() for _ in range(args.receivers - 1)] + [Receiver(hang=True)]
        with_hang = one_round(admin, ws, members, args.events, stuck, args.timeout)
        hung_attempts = stuck[-1].attempts
        for receiver in stuck:
            receiver.close()

    for title, result in (("all answering", calm), ("one hanging", with_hang)):
        print(
            f"{title:>14}: {result['events']} events x {args.receivers} webhooks; {result['deliveries']} deliveries to the answering "
            f"receivers, {result['missing']} missing; event to arrival p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms; "
            f"all in after {result['all_in_s']:.1f} s (the role changes took {result['changes_s']:.1f} s)"
        )
    print(f"the hanging receiver was tried {hung_attempts} times meanwhile (one at a time, each for the timeout)")
    figures(
        "webhooks",
        calm_p50_ms=calm["p50_ms"],
        calm_p99_ms=calm["p99_ms"],
        calm_all_in_s=calm["all_in_s"],
        hang_p50_ms=with_hang["p50_ms"],
        hang_p99_ms=with_hang["p99_ms"],
        hang_all_in_s=with_hang["all_in_s"],
        missing=calm["missing"] + with_hang["missing"],
        hanging_attempts=hung_attempts,
    )


if __name__ == "__main__":
    main()
