"""The TypeScript host kit in Chromium, on a page of its own origin (another port than the
gateway's, so every call to ingest is a cross-origin one that CORS must allow): it sends analytics,
keeps them while the browser is offline and sends them once it is back, and `@sentry/browser`,
set up with the kit's DSN, reports an uncaught crash; the console's API then shows both."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser

from ..conftest import eventually
from ..test_catalog import team  # noqa: F401 - a fixture
from ..test_host_sdks import Kit, counted, kit, sdk_js_build  # noqa: F401 - fixtures
from .conftest import ROOT

SDK_JS = ROOT / "sdk" / "js"
SENTRY = "/node_modules/@sentry"
IMPORTS = {
    "@sentry/browser": f"{SENTRY}/browser/build/npm/esm/prod/index.js",
    "@sentry/core": f"{SENTRY}/core/build/esm/index.js",
    "@sentry/core/browser": f"{SENTRY}/core/build/esm/browser.js",
    "@sentry/browser-utils": f"{SENTRY}/browser-utils/build/esm/index.js",
    "@sentry/conventions": f"{SENTRY}/conventions/dist/index.mjs",
    "@sentry/conventions/attributes": f"{SENTRY}/conventions/dist/attributes.mjs",
    "@sentry/conventions/op": f"{SENTRY}/conventions/dist/op.mjs",
    "@sentry/conventions/metrics": f"{SENTRY}/conventions/dist/metrics.mjs",
    "@sentry/feedback": f"{SENTRY}/feedback/build/npm/esm/index.js",
    "@sentry/replay": f"{SENTRY}/replay/build/npm/esm/index.js",
    "@sentry/replay-canvas": f"{SENTRY}/replay-canvas/build/npm/esm/index.js",
    "web-vitals": "/node_modules/web-vitals/dist/web-vitals.js",
}

# A web host's page: the kit's ESM build and @sentry/browser, as a host's bundler would give them.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Super App</title>
<script type="importmap">%(imports)s</script>
<script type="module">
import * as Sentry from "@sentry/browser";
import { HostClient, LocalStorage } from "/dist/esm/index.js";

const given = new URLSearchParams(location.search);
const client = new HostClient({ baseUrl: given.get("gateway"), keyId: given.get("key") });
Sentry.init({ dsn: client.sentryDsn(given.get("telemetry")), release: "shop@1.0.0" });
Sentry.setUser({ id: "web-ada" });
const analytics = await client.analytics({ storage: new LocalStorage(), batchSize: 10, flushIntervalMs: 60000 }).start();
const session = analytics.session(given.get("mp"), "1.0.0", "web-ada");
window.kit = { analytics, session };
session.appLaunch(640);
session.pageView("pages/home/home", 1800);
session.pageView("pages/cart/cart", 900);
session.track("add_to_cart", { sku: "A1" });
document.body.dataset.sent = String(await analytics.flush());
</script></head><body><h1>Super App</h1></body></html>
"""


@pytest.fixture
def host_page(kit: Kit, sdk_js_build: object) -> Iterator[str]:
    """The page's URL on its own local server: / is the page, the rest the kit's folder (its build
    and @sentry/browser from its node_modules)."""
    page = (PAGE % {"imports": json.dumps({"imports": IMPORTS})}).encode()

    class Handler(SimpleHTTPRequestHandler):
        extensions_map = {".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json", "": "application/octet-stream"}

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(SDK_JS), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/":
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
            elif self.path.startswith(("/dist/esm/", f"{SENTRY}/", "/node_modules/web-vitals/")):
                super().do_GET()
            else:
                self.send_error(404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    query = f"gateway={kit.gateway}&key={kit.key_id}&telemetry={kit.telemetry_id}&mp={kit.team.mp}"
    yield f"http://127.0.0.1:{server.server_address[1]}/?{query}"
    server.shutdown()
    server.server_close()


def issues(kit: Kit) -> list[dict]:
    answer = kit.team.admin.get(f"{kit.team.base}/quality/issues", params={"miniprogram_id": kit.team.mp})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_a_web_host_sends_analytics_and_crashes_across_origins(browser: Browser, kit: Kit, host_page: str) -> None:
    context = browser.new_context()
    try:
        tab = context.new_page()
        errors: list[str] = []
        tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(host_page)
        try:
            tab.wait_for_function("document.body && document.body.dataset.sent", timeout=30_000)
        except Exception:
            raise AssertionError(f"the page did not send its events: {errors}") from None
        assert tab.evaluate("document.body.dataset.sent") == "4", errors
        counted(kit, 2)

        # Offline: the events wait in localStorage; back online, the kit sends them by itself.
        context.set_offline(True)
        tab.evaluate("kit.session.pageView('pages/offline/offline')")
        tab.evaluate("kit.analytics.flush().catch((error) => { window.offline = error.name; })")
        tab.wait_for_function("window.offline", timeout=10_000)
        assert tab.evaluate("window.offline") == "NetworkError"
        assert "pages/offline/offline" in tab.evaluate("atob(localStorage.getItem(`mpdp:analytics:${kit.analytics.keyId}`))")
        context.set_offline(False)
        tab.wait_for_function("kit.analytics.length === 0", timeout=20_000)
        counted(kit, 3)

        # An uncaught crash, reported by @sentry/browser through the kit's DSN.
        tab.evaluate("setTimeout(() => { const cart = {}; cart.coupon.code; }, 0)")
        found = eventually(lambda: [item for item in issues(kit) if item["title"].startswith("TypeError")], timeout=30)
        assert found[0]["versions"] == ["1.0.0"] and found[0]["users"] == 1, found
    finally:
        context.close()
    today = datetime.now(UTC).date().isoformat()
    events = kit.team.admin.get(f"{kit.team.base}/analytics/events", params={"miniprogram_id": kit.team.mp, "from": today, "to": today})
    assert events.json()["items"] == [{"name": "add_to_cart", "count": 1, "users": 1}]
