"""The web console in a real browser: Debian's Chromium, driven by Playwright, against the platform
that the integration tests start. Each main page is saved as a screenshot under var/screenshots/."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import zipfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect

from ..client import Client
from ..conftest import Platform, eventually

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("MPDP_CHROMIUM", "/usr/lib/chromium/chromium")
SCREENSHOTS = ROOT / "var" / "screenshots"
#: whether a test's own call failed (not its setup or teardown), for its fixtures' teardown to read
CALL_FAILED = pytest.StashKey[bool]()

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def console_build() -> None:
    """The console built from its current sources; make does nothing when the build is fresh."""
    subprocess.run(["make", "--no-print-directory", "-s", "console"], cwd=ROOT, check=True)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Debian's Chromium: no browser is downloaded for these tests.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium (or set MPDP_CHROMIUM)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True}


@pytest.fixture(scope="session")
def public_paths(platform: Platform) -> set[str]:
    """The paths of the gateway's merged OpenAPI, with every parameter written `{}`."""
    document = requests.get(platform.gateway + "/api/v1/openapi.json", timeout=30).json()
    return {re.sub(r"\{[^}]+\}", "{}", path) for path in document["paths"]}


@pytest.fixture(autouse=True)
def _skip_unless_served(request: pytest.FixtureRequest) -> None:
    """`@pytest.mark.needs_api("/api/v1/workspaces/{}/approvals")`: skipped while the platform
    does not serve that path (its service is not installed)."""
    marker = request.node.get_closest_marker("needs_api")
    if marker:
        served = request.getfixturevalue("public_paths")
        missing = [path for path in marker.args if path not in served]
        if missing:
            pytest.skip(f"the platform does not serve {', '.join(missing)}")


#: the width below which the console is laid out for a phone (Ant Design's md breakpoint)
PHONE_BREAKPOINT = 768


class Console:
    """One person's browser tab on the console."""

    def __init__(self, page: Page):
        self.page = page

    def go(self, path: str) -> Console:
        # A page load trades the tab's refresh token for new tokens; leaving the page before that
        # answer arrives would lose the new refresh token, so every load is let finish.
        self.page.goto(path, wait_until="networkidle")
        return self

    def sign_in(self, user: Client) -> Console:
        self.page.goto("/sign-in")
        self.page.get_by_label("Email").fill(user.account["email"])
        self.page.get_by_label("Password").fill(user.password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()
        if self.page.viewport_size and self.page.viewport_size["width"] >= PHONE_BREAKPOINT:
            expect(self.page.get_by_test_id("account-name")).to_have_text(user.account["name"])
        return self

    def button(self, name: str, exact: bool = True) -> Locator:
        return self.page.get_by_role("button", name=name, exact=exact)

    def dialog(self) -> Locator:
        return self.page.get_by_role("dialog")

    def secret_shown_once(self) -> str:
        """The secret in the dialog that shows it once; the dialog is closed after reading it."""
        secret = self.dialog().get_by_test_id("secret").inner_text()
        self.button("I have copied it").click()
        expect(self.dialog()).to_have_count(0)
        return secret

    def reload_until(self, ready: Callable[[], object], timeout: float = 20) -> None:
        """Reload until `ready()`: for what the platform does a moment later, through events."""

        def check() -> object:
            self.page.reload(wait_until="networkidle")
            return ready()

        eventually(check, timeout=timeout, interval=0.5)

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.wait_for_load_state("networkidle")
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")


@pytest.fixture
def make_tenant(make_workspace: Callable[[Client], str]) -> Callable[[Client], str]:
    """A tenant workspace whose admin is `owner`, once every service has heard of it (the catalog
    learns its members through events too)."""

    def make(owner: Client) -> str:
        ws = make_workspace(owner)
        eventually(lambda: owner.get(f"/api/v1/workspaces/{ws}/miniprograms").status_code == 200)
        return ws

    return make


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


class OpenConsole(Protocol):
    def __call__(self, user: Client | None = None, width: int = 1440) -> Console: ...


@pytest.fixture
def open_console(request: pytest.FixtureRequest, browser: Browser, platform: Platform, console_build: None) -> Iterator[OpenConsole]:
    """`open_console(user)`: a new browser context (its own storage) signed in as `user`. When
    the test fails, each tab's screen is saved and its text printed, to show what it showed."""
    contexts: list[BrowserContext] = []

    def open_as(user: Client | None = None, width: int = 1440) -> Console:
        # Reduced motion: dialogs open and close without animation, so a click is never taken
        # in the middle of one (the console honours the setting as it would for any user).
        viewport: ViewportSize = {"width": width, "height": 900 if width >= PHONE_BREAKPOINT else 844}
        context = browser.new_context(base_url=platform.gateway, viewport=viewport, reduced_motion="reduce")
        context.set_default_timeout(15_000)
        contexts.append(context)
        console = Console(context.new_page())
        return console.sign_in(user) if user else console

    yield open_as
    for number, context in enumerate(contexts):
        if request.node.stash.get(CALL_FAILED, False):
            for tab in context.pages:
                _show_failure(tab, f"{request.node.name}-{number}")
        context.close()


def _show_failure(tab: Page, name: str) -> None:
    try:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"failed-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"), full_page=True)
        print(f"--- {name}: {tab.url}\n{tab.inner_text('body', timeout=2000)[:3000]}")
    except Exception as error:  # the tab may be gone with the failure it shows
        print(f"--- {name}: could not be shown ({error!r})")


def package(pages: tuple[str, ...] = ("pages/index/index",), filler_bytes: int = 0) -> bytes:
    """A valid mini program package; `filler_bytes` of incompressible data make it large."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.json", json.dumps({"pages": list(pages)}))
        for page in pages:
            archive.writestr(f"{page}.js", "Page({});")
        if filler_bytes:
            archive.writestr("assets/filler.bin", os.urandom(filler_bytes))
    return out.getvalue()
