"""One sign-in across the tabs of a browser: a new tab opens signed in, a reload in one tab
keeps the others signed in, and a sign-out in one ends it in all of them, which say why."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import Console


def test_a_new_tab_is_signed_in_and_a_sign_out_in_one_tab_ends_every_tab_with_a_word_why(open_console, make_user, make_tenant):
    admin = make_user("Admin")
    ws = make_tenant(admin)
    first = open_console(admin).go(f"/workspaces/{ws}/apps")

    # A new tab (a Ctrl-click) on a page deep in the console opens it, without asking to sign in.
    second = Console(first.page.context.new_page()).go(f"/workspaces/{ws}/members")
    expect(second.page).to_have_url(re.compile(f"/workspaces/{ws}/members$"))
    expect(second.page.get_by_test_id("account-name")).to_have_text(admin.account["name"])

    # A reload trades the refresh token; the other tab takes the new one and goes on working.
    first.go(f"/workspaces/{ws}/apps")
    expect(first.page.get_by_test_id("account-name")).to_have_text(admin.account["name"])
    second.go(f"/workspaces/{ws}/settings")
    expect(second.page.get_by_test_id("account-name")).to_have_text(admin.account["name"])

    second.button("Sign out").click()
    expect(second.page).to_have_url(re.compile("/sign-in"))
    expect(first.page).to_have_url(re.compile("/sign-in"))
    expect(first.page.get_by_test_id("signed-out-because")).to_have_text("You signed out in another tab of this browser.")
    first.screenshot("signed-out-in-another-tab")
