"""Every main page of the console at a desktop's width and at a phone's (390 px): nothing wider
than the screen, the menu in a drawer on the phone. Each page is saved as a screenshot at both
widths (`var/screenshots/1400-*.png`, `390-*.png`)."""

from __future__ import annotations

import re
import socket

from playwright.sync_api import expect

from ..conftest import eventually
from .conftest import SCREENSHOTS
from .test_console_lifecycle import _team

#: the main pages, by the name of their screenshot; {mp} and {app} are the team's, {hook} a webhook's
PAGES = {
    "miniprograms": "miniprograms",
    "miniprogram-versions": "miniprograms/{mp}/versions",
    "miniprogram-launches": "miniprograms/{mp}/launches",
    "miniprogram-people": "miniprograms/{mp}/people",
    "jsapis": "jsapis",
    "features": "features",
    "analytics": "analytics",
    "quality": "quality",
    "approvals": "approvals",
    "apps": "apps",
    "app": "apps/{app}",
    "members": "members",
    "workspace": "workspace",
    "settings": "settings",
    "webhooks": "webhooks?webhook={hook}",
}


def _closed_port() -> int:
    """A loopback port that nothing listens on: a delivery to it is refused at every attempt."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _webhooks(admin, ws: str) -> str:
    """Two webhooks, one with a long URL and every event; the other pinged, its delivery refused
    until it has failed (the platform's retries come within seconds); that one's id."""
    hooks = f"/api/v1/workspaces/{ws}/webhooks"
    every = ["approval.opened", "approval.decided", "launch.status_changed", "launch.halted", "version.uploaded"]
    every += ["quality.issue.created", "quality.issue.regressed", "alert.fired", "member.changed"]
    long_url = "https://hooks.example.com/services/T0123456789/B0123456789/mpdp-releases-and-quality-of-the-super-app"
    assert admin.post(hooks, json={"url": long_url, "events": every, "description": "Everything to the team's channel"}).status_code == 201
    hook = admin.post(hooks, json={"url": f"http://127.0.0.1:{_closed_port()}/mpdp", "events": ["launch.halted"]}).json()
    assert admin.post(f"{hooks}/{hook['id']}/ping").status_code == 202
    statuses = lambda: [delivery["status"] for delivery in admin.get(f"{hooks}/{hook['id']}/deliveries").json()["items"]]  # noqa: E731
    eventually(lambda: statuses() == ["failed"], timeout=60, interval=0.5)
    return str(hook["id"])


def _fits(console, width: int, name: str) -> None:
    """The page shown is no wider than the screen, saved as `{width}-{name}.png`."""
    # wider than the screen, the page would scroll sideways: a table may scroll inside its card
    overflow = console.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} is {overflow} px wider than a {width} px screen"
    console.screenshot(f"{width}-{name}")


def test_every_main_page_fits_a_desktop_and_a_phone_whose_menu_is_a_drawer(open_console, make_user, make_tenant):
    admin = make_user("Admin")
    ws, app, mp, people = _team(admin, make_user, make_tenant)
    hook = _webhooks(admin, ws)
    for width in (1400, 390):
        console = open_console(admin, width=width)
        for name, page in PAGES.items():
            console.go(f"/workspaces/{ws}/{page.format(mp=mp['id'], app=app['id'], hook=hook)}")
            expect(console.page.locator(".ant-card").first).to_be_visible()
            expect(console.page.locator(".ant-card-loading")).to_have_count(0)
            _fits(console, width, name)

        # the webhook's refused delivery opened on its attempts, and the dialog that adds a webhook
        console.go(f"/workspaces/{ws}/webhooks?webhook={hook}")
        console.page.get_by_test_id("deliveries").get_by_role("button", name="Expand row").first.click()
        expect(console.page.get_by_test_id("attempts")).to_be_visible()
        _fits(console, width, "webhook-attempts")
        console.button("Add webhook", exact=False).click()
        form = console.dialog()
        expect(form.get_by_text("launch.halted")).to_be_visible()
        _fits(console, width, "webhook-add")
        # an address inside the platform's network is refused on its field; a public one is taken
        form.get_by_label("URL").fill("http://10.0.0.5/hooks")
        form.get_by_text("member.changed").click()
        form.get_by_role("button", name="Add webhook").click()
        expect(form.get_by_text("Not a public address")).to_be_visible()
        _fits(console, width, "webhook-refused")
        form.get_by_label("URL").fill(f"http://127.0.0.1:{_closed_port()}/members")
        form.get_by_role("button", name="Add webhook").click()
        expect(console.dialog().get_by_test_id("secret")).to_be_visible()
        expect(console.dialog().get_by_text("X-MPDP-Signature-256")).to_be_visible()
        _fits(console, width, "webhook-secret")
        secret = console.secret_shown_once()
        assert secret.startswith("whsec_")
        expect(console.page.get_by_text("/members").first).to_be_visible()
        expect(console.page.get_by_text(secret)).to_have_count(0)
        # the notifications card, where the mails' link leads
        console.go(f"/workspaces/{ws}/workspace#notifications")
        expect(console.page.get_by_role("switch", name="Approvals")).to_be_visible()
        console.page.locator("#notifications").screenshot(path=str(SCREENSHOTS / f"{width}-notifications.png"), animations="disabled")

    # On the phone the menu is a drawer, closed until asked for, and closed again once an entry is chosen.
    menu = console.page.get_by_role("menu")
    expect(menu).to_be_hidden()
    console.button("Menu").click()
    expect(menu).to_be_visible()
    console.screenshot("390-menu")
    menu.get_by_role("menuitem", name="Members").click()
    expect(console.page).to_have_url(re.compile(f"/workspaces/{ws}/members$"))
    expect(menu).to_be_hidden()
    expect(console.button("Sign out")).to_be_in_viewport()

    # A developer reads the host app but not its keys: told who keeps them, not shown a refusal.
    developer = open_console(people["developer"], width=390).go(f"/workspaces/{ws}/apps/{app['id']}")
    expect(developer.page.get_by_text("kept by the workspace's admins")).to_be_visible()
    expect(developer.page.get_by_text("Forbidden")).to_have_count(0)
    developer.screenshot("390-app-developer")
