"""Every main page of the console at a desktop's width and at a phone's (390 px): nothing wider
than the screen, the menu in a drawer on the phone. Each page is saved as a screenshot at both
widths (`var/screenshots/1400-*.png`, `390-*.png`)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .test_console_lifecycle import _team

#: the main pages, by the name of their screenshot; {mp} and {app} are the team's
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
}


def test_every_main_page_fits_a_desktop_and_a_phone_whose_menu_is_a_drawer(open_console, make_user, make_tenant):
    admin = make_user("Admin")
    ws, app, mp, people = _team(admin, make_user, make_tenant)
    for width in (1400, 390):
        console = open_console(admin, width=width)
        for name, page in PAGES.items():
            console.go(f"/workspaces/{ws}/{page.format(mp=mp['id'], app=app['id'])}")
            expect(console.page.locator(".ant-card").first).to_be_visible()
            expect(console.page.locator(".ant-card-loading")).to_have_count(0)
            # wider than the screen, the page would scroll sideways: a table may scroll inside its card
            overflow = console.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{name} is {overflow} px wider than a {width} px screen"
            console.screenshot(f"{width}-{name}")

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
