"""What people do in the web console every day, in Chromium against the real platform."""

from __future__ import annotations

import gzip
import json
import re
import secrets
from pathlib import Path

import requests
from playwright.sync_api import expect

from ..client import mailed_token
from ..conftest import eventually
from .conftest import ROOT, package

# a 1x1 PNG, for the logo
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63102bffff1f0004bf028cf44c3c4a0000000049454e44ae426082"
)


def test_the_gateway_serves_the_console_with_strict_headers(platform, console_build):
    for path in ("/", "/sign-in", "/workspaces/abc/miniprograms"):
        page = requests.get(platform.gateway + path, timeout=10)
        assert page.status_code == 200 and '<div id="root">' in page.text, path
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Referrer-Policy"] == "same-origin"
    index = requests.get(platform.gateway + "/", timeout=10).text
    assert re.search(r'src="/assets/index-[^"]+\.js"', index)
    # every file of the build, the pages fetched later included, under its fingerprinted name, as
    # it is and in the gzip copy the build wrote beside it
    built = sorted(file for file in (ROOT / "console" / "dist" / "assets").iterdir() if file.suffix not in (".gz", ".br"))
    assert len([file for file in built if file.suffix == ".js"]) > 10
    assert len([file for file in built if file.with_name(file.name + ".gz").is_file()]) > 10
    for file in built:
        for coding in ("identity", "gzip"):
            asset = requests.get(f"{platform.gateway}/assets/{file.name}", headers={"Accept-Encoding": coding}, stream=True, timeout=10)
            sent = asset.raw.read(decode_content=False)
            assert asset.status_code == 200 and asset.headers["Content-Length"] == str(len(sent)), file.name
            copy = file.with_name(file.name + ".gz")
            if coding == "gzip" and copy.is_file():
                assert asset.headers["Content-Encoding"] == "gzip" and sent == copy.read_bytes(), file.name
                assert gzip.decompress(sent) == file.read_bytes(), file.name
            else:
                assert "Content-Encoding" not in asset.headers and sent == file.read_bytes(), file.name
            assert ("Accept-Encoding" in asset.headers.get("Vary", "")) == copy.is_file(), file.name
            assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable", file.name
            if file.suffix == ".js":
                assert asset.headers["Content-Type"].startswith("text/javascript"), file.name
    assert requests.get(platform.gateway + "/api/v1/nothing", timeout=10).headers["Content-Type"] == "application/problem+json"


def test_every_path_the_console_calls_is_in_the_merged_openapi(public_paths):
    source = (ROOT / "console" / "src" / "api" / "paths.ts").read_text()
    templates = re.findall(r"`(/api/v1/[^`]*)`", source)
    assert len(templates) > 30
    # Launches, approvals and telemetry come with their own services; checked once those are served.
    optional = re.compile(r"/(launches|approvals|analytics|quality|dsn|\$\{action\}$)")
    for template in templates:
        pattern = re.compile("^" + re.sub(r"\\\$\\\{[^}]*\\\}", "[^/]+", re.escape(template)) + "$")
        concrete = {path.replace("{}", "x") for path in public_paths}
        if optional.search(template) and not any(pattern.match(path) for path in concrete):
            continue
        assert any(pattern.match(path) for path in concrete), f"{template} is not in the gateway's OpenAPI"


def test_a_newcomer_signs_up_confirms_the_email_creates_a_workspace_and_signs_out(open_console, platform):
    console = open_console()
    scripts = []
    console.page.on("response", lambda response: scripts.append(response) if response.url.endswith(".js") else None)
    console.go("/")
    expect(console.page).to_have_url(re.compile(r"/sign-in"))
    console.screenshot("sign-in")
    # the browser is sent the build's compressed copies of the scripts
    assert len(scripts) > 3 and {response.header_value("content-encoding") for response in scripts} <= {"br", "gzip"}
    console.page.get_by_role("link", name="Create an account").click()
    console.page.get_by_label("Name").fill("Ada")
    email = f"ada-{secrets.token_hex(4)}@example.com"
    console.page.get_by_label("Email").fill(email)
    console.page.get_by_label("Password", exact=True).fill("short")
    console.page.get_by_label("Repeat the password").fill("short")
    console.button("Create account").click()
    expect(console.page.get_by_text("Use at least 10 characters.")).to_be_visible()
    console.page.get_by_label("Password", exact=True).fill("a long enough password")
    console.page.get_by_label("Repeat the password").fill("a long enough password")
    console.screenshot("sign-up")
    console.button("Create account").click()
    expect(console.page.get_by_text("Check your mail")).to_be_visible()
    expect(console.page.get_by_text(f"We sent a link to {email}")).to_be_visible()
    console.screenshot("sign-up-check-your-mail")
    console.button("Continue").click()
    expect(console.page.get_by_test_id("account-name")).to_have_text("Ada")
    expect(console.page.get_by_text("You are in no workspace yet")).to_be_visible()
    expect(console.page.get_by_text("Confirm your email: follow the link")).to_be_visible()

    # The mailed link, followed in the same tab: the console confirms and takes tokens that say so.
    console.go(f"/verify-email?token={mailed_token(platform.gateway, email, 'verify-email')}")
    expect(console.page.get_by_text("Your email is confirmed")).to_be_visible()
    console.page.get_by_role("button", name="Go to your workspaces").click()
    expect(console.page.get_by_text("You are in no workspace yet")).to_be_visible()
    expect(console.page.get_by_text("Confirm your email: follow the link")).not_to_be_visible()

    console.button("Create a tenant workspace").click()
    console.dialog().get_by_label("Name").fill("Acme Super App")
    console.dialog().get_by_role("button", name="Create").click()
    expect(console.page).to_have_url(re.compile(r"/workspaces/[^/]+/miniprograms$"))
    expect(console.page.get_by_text("Workspace Admin")).to_be_visible()
    expect(console.page.get_by_text("No mini programs yet: create the first one.")).to_be_visible()

    # The access token lives in memory only: nothing but the tab's refresh token is stored, and a
    # reload keeps the person signed in through it.
    stored = console.page.evaluate("() => [Object.keys(localStorage), Object.keys(sessionStorage)]")
    assert stored == [[], ["mpdp.refresh_token"]]
    console.page.reload()
    expect(console.page.get_by_test_id("account-name")).to_have_text("Ada")

    console.button("Sign out", exact=False).click()
    expect(console.page).to_have_url(re.compile(r"/sign-in"))
    assert console.page.evaluate("() => sessionStorage.length") == 0
    console.page.get_by_label("Email").fill(email)
    console.page.get_by_label("Password").fill("not the password")
    console.button("Sign in").click()
    expect(console.page.get_by_role("alert")).to_be_visible()
    console.page.get_by_label("Password").fill("a long enough password")
    console.button("Sign in").click()
    expect(console.page.get_by_test_id("account-name")).to_have_text("Ada")


def test_an_admin_builds_a_mini_program_and_a_reviewer_joins(open_console, make_user, make_tenant, tmp_path):
    admin = make_user("Grace")
    ws = make_tenant(admin)
    console = open_console(admin).go(f"/workspaces/{ws}/miniprograms")
    console.button("Create mini program").click()
    console.dialog().get_by_label("Name").fill("Coffee <b>Shop</b>")
    console.dialog().get_by_label("Description").fill("<img src=x onerror=alert(1)> order coffee")
    console.dialog().get_by_role("button", name="Create").click()
    # user text is shown as text, never as HTML
    expect(console.page.get_by_role("heading", name="Coffee <b>Shop</b>")).to_be_visible()
    expect(console.page.get_by_text("<img src=x onerror=alert(1)> order coffee")).to_be_visible()
    console.screenshot("miniprogram-detail")
    mp = console.page.url.rstrip("/").split("/")[-1]

    # Upload: the server's validation errors appear on the form, progress shows while it goes.
    console.page.get_by_role("tab", name="Versions").click()
    console.button("Upload version").click()
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    console.page.get_by_placeholder("1.0.0").fill("1.0.0")
    console.page.locator("input[type=file]").set_input_files(str(bad))
    console.page.get_by_role("button", name="Upload version").last.click()
    refusal = console.page.get_by_text("The package is not a zip archive.")
    expect(refusal).to_be_visible()
    expect(refusal).to_have_count(1)
    console.screenshot("version-upload-error")

    good = tmp_path / "coffee-1.0.0.zip"
    good.write_bytes(package(filler_bytes=6 * 1024 * 1024))
    console.page.locator("input[type=file]").set_input_files(str(good))
    cdp = console.page.context.new_cdp_session(console.page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 4 * 1024 * 1024}
    )
    console.page.get_by_role("button", name="Upload version").last.click()
    expect(console.page.get_by_test_id("upload-progress")).to_be_visible()
    expect(console.page.get_by_role("cell", name="1.0.0", exact=True)).to_be_visible(timeout=30_000)
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    console.screenshot("versions")
    with console.page.expect_download() as download:
        console.button("Download").click()
    assert Path(download.value.path()).read_bytes() == good.read_bytes()

    console.button("Upload version").click()
    console.page.get_by_placeholder("1.0.0").fill("1.0.0")
    console.page.locator("input[type=file]").set_input_files(str(good))
    console.page.get_by_role("button", name="Upload version").last.click()
    expect(console.page.get_by_text("Version 1.0.0 of this mini program exists", exact=False)).to_be_visible(timeout=30_000)

    # JSAPIs: the parameters are a JSON Schema, checked before it is sent.
    console.go(f"/workspaces/{ws}/jsapis")
    expect(console.page.get_by_text("No JSAPIs yet")).to_be_visible()
    console.button("New JSAPI").click()
    console.dialog().get_by_label("Name").fill("getLocation")
    console.dialog().get_by_label("Description").fill("Where the phone is")
    console.dialog().get_by_label("Parameters (JSON Schema)").fill('{"type": "objekt"}')
    console.dialog().get_by_role("button", name="Create").click()
    expect(console.dialog().get_by_text('"type" must be one of')).to_be_visible()
    console.dialog().get_by_label("Parameters (JSON Schema)").fill('{"type": "object", "properties": {"accuracy": {"type": "string"}}}')
    console.dialog().get_by_role("button", name="Create").click()
    expect(console.page.get_by_role("heading", name="getLocation")).to_be_visible()
    console.screenshot("jsapi-detail")

    # Features: edited twice, the history shows each revision's changes as a diff.
    console.go(f"/workspaces/{ws}/features")
    console.button("Add feature").click()
    console.dialog().get_by_label("Name").fill("Location")
    console.dialog().get_by_label("Description").fill("Lets a mini program ask where the user is")
    console.dialog().get_by_role("button", name="Add").click()
    expect(console.page.get_by_role("heading", name="Location")).to_be_visible()
    console.button("Edit").click()
    console.page.get_by_label("Description").fill("Lets a mini program ask where the phone is")
    console.page.get_by_text("Needs approval").click()
    console.button("Save").click()
    expect(console.button("Edit")).to_be_visible()
    console.page.get_by_role("tab", name="History").click()
    revision = console.page.get_by_test_id("revision-2")
    expect(revision.locator(".diff-removed", has_text="user")).to_be_visible()
    expect(revision.locator(".diff-added", has_text="phone")).to_be_visible()
    expect(revision.get_by_test_id("diff-activation")).to_contain_text("direct")
    console.screenshot("feature-history")

    # Apps and keys: a key's secret is shown once.
    console.go(f"/workspaces/{ws}/apps")
    console.button("Add app").click()
    console.dialog().get_by_label("Name").fill("Super App")
    console.dialog().get_by_label("Bundle ID").fill("not a bundle id")
    console.dialog().get_by_role("button", name="Add").click()
    expect(console.dialog().get_by_text("Not a bundle id").first).to_be_visible()
    console.dialog().get_by_label("Bundle ID").fill("com.example.superapp")
    console.dialog().get_by_role("button", name="Add").click()
    expect(console.page.get_by_role("heading", name="Super App")).to_be_visible()
    console.button("Create key").click()
    secret = console.secret_shown_once()
    assert len(secret) >= 32
    expect(console.page.get_by_text(secret)).to_have_count(0)
    console.screenshot("app-detail")

    # Workspace: API keys shown once; settings saved.
    console.go(f"/workspaces/{ws}/workspace")
    console.screenshot("workspace")
    console.page.get_by_role("tab", name="Key management").click()
    console.page.get_by_placeholder("Label, e.g. CI uploads").fill("CI uploads")
    console.button("Create API key").click()
    token = console.secret_shown_once()
    assert (
        requests.get(
            f"{admin.base}/api/v1/workspaces/{ws}/miniprograms", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).status_code
        == 200
    )

    console.go(f"/workspaces/{ws}/settings")
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    console.page.locator("input[type=file]").first.set_input_files(str(logo))
    expect(console.page.get_by_alt_text("Logo preview")).to_be_visible()
    console.page.get_by_label("About Us URL").fill("https://example.com/about")
    console.page.get_by_label("Whitelist for testers").click()
    console.button("Save settings").click()
    expect(console.page.get_by_text("Settings saved")).to_be_visible()
    console.screenshot("settings")
    assert admin.get(f"/api/v1/workspaces/{ws}/settings").json()["tester_whitelist_enabled"] is True

    # Members: invite a reviewer, who accepts the link in their own browser.
    reviewer = make_user("Rita")
    console.go(f"/workspaces/{ws}/members")
    console.button("Invite member").click()
    console.dialog().get_by_label("Email").fill(reviewer.account["email"])
    console.dialog().get_by_label("Role").click()
    console.page.get_by_title("Workspace Reviewer").click()
    console.dialog().get_by_role("button", name="Invite").click()
    # without a service email nothing is mailed, and the dialog says so
    expect(console.dialog()).to_contain_text("nothing was emailed")
    link = console.secret_shown_once()
    expect(console.page.get_by_role("cell", name=reviewer.account["email"])).to_be_visible()
    console.screenshot("members")
    # the next invitation starts empty: not the last one's email or role
    console.button("Invite member").click()
    expect(console.dialog().get_by_label("Email")).to_have_value("")
    expect(console.dialog()).to_contain_text("Workspace Developer")
    expect(console.dialog()).not_to_contain_text("Workspace Reviewer")
    # its mini programs are found by name
    console.dialog().get_by_label("Mini programs").fill("Coffee")
    expect(console.page.locator(".ant-select-item-option").filter(has_text="Coffee <b>Shop</b>")).to_be_visible()
    console.page.keyboard.press("Escape")
    console.dialog().get_by_role("button", name="Cancel").click()
    expect(console.dialog()).to_have_count(0)

    other = open_console(reviewer)
    other.go(link.replace(admin.base, ""))
    expect(other.page.get_by_test_id("invitation-preview")).to_contain_text(
        f"invited {reviewer.account['email']} to Acme as Workspace Reviewer"
    )
    other.screenshot("invitation")
    other.button("Accept the invitation").click()
    expect(other.page).to_have_url(re.compile(rf"/workspaces/{ws}/miniprograms"))
    expect(other.page.get_by_text("Workspace Reviewer")).to_be_visible()
    # a reviewer is offered no admin action
    expect(other.button("Create mini program")).to_have_count(0)
    expect(other.page.get_by_role("menuitem", name="Settings")).to_have_count(0)
    assert mp


def test_a_developer_is_not_offered_admin_actions_and_errors_read_well(open_console, make_user, make_tenant):
    admin = make_user("Alan")
    ws = make_tenant(admin)
    developer = make_user("Dev")
    invitation = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": developer.account["email"], "role": "developer"}).json()
    assert developer.post(f"/api/v1/invitations/{invitation['token']}/accept").status_code == 200
    mp = admin.post(f"/api/v1/workspaces/{ws}/miniprograms", json={"name": "Tickets"}).json()["id"]
    eventually(
        lambda: (
            admin.put(f"/api/v1/workspaces/{ws}/miniprograms/{mp}/developers", json={"account_ids": [developer.account["id"]]}).status_code
            == 200
        )
    )

    console = open_console(developer).go(f"/workspaces/{ws}/miniprograms")
    expect(console.page.get_by_role("link", name="Tickets")).to_be_visible()
    expect(console.button("Create mini program")).to_have_count(0)
    console.screenshot("miniprograms-developer")
    console.page.get_by_role("link", name="Tickets").click()
    console.page.get_by_role("tab", name="Versions").click()
    expect(console.button("Upload version")).to_be_visible()
    expect(console.page.get_by_text("No versions yet: upload the first package.")).to_be_visible()
    console.page.get_by_role("tab", name="Details").click()
    expect(console.button("Edit")).to_have_count(0)

    console.go(f"/workspaces/{ws}/members")
    expect(console.page.get_by_role("cell", name=admin.account["email"])).to_be_visible()
    expect(console.button("Invite member")).to_have_count(0)
    expect(console.button("Block")).to_have_count(0)
    expect(console.page.get_by_role("menuitem", name="Settings")).to_have_count(0)
    console.go(f"/workspaces/{ws}/workspace")
    expect(console.page.get_by_role("tab", name="Key management")).to_have_count(0)

    # An unknown mini program is a readable message, not a blank page.
    console.go(f"/workspaces/{ws}/miniprograms/no-such-program")
    expect(console.page.get_by_role("alert")).to_contain_text("not found", ignore_case=True)
    console.screenshot("not-found")
    # A page the console does not have leads back to the workspaces.
    console.go("/no/such/page")
    console.screenshot("page-not-found")
    console.page.get_by_role("link", name="Your workspaces").click()
    expect(console.page).to_have_url(re.compile(r"/workspaces$"))

    # The admin blocks the developer: the 403 is shown where it happened.
    assert admin.post(f"/api/v1/workspaces/{ws}/members/{developer.account['id']}/block").status_code == 200
    console.go(f"/workspaces/{ws}/jsapis")
    expect(console.page.get_by_role("alert")).to_be_visible()


def test_members_and_lists_page(open_console, make_user, make_tenant):
    admin = make_user("Mary")
    ws = make_tenant(admin)
    for number in range(23):
        assert (
            admin.post(
                f"/api/v1/workspaces/{ws}/jsapis", json={"name": f"api{number:02d}", "description": "d", "platforms": ["ios"]}
            ).status_code
            == 201
        )
    console = open_console(admin).go(f"/workspaces/{ws}/jsapis")
    rows = console.page.locator(".ant-table-tbody tr.ant-table-row")
    expect(rows).to_have_count(20)
    console.button("Next").click()
    expect(console.page.get_by_text("Page 2")).to_be_visible()
    expect(rows).to_have_count(3)
    console.button("Previous").click()
    expect(rows).to_have_count(20)
    console.screenshot("jsapis")

    developer = make_user("Tom")
    invitation = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": developer.account["email"], "role": "developer"}).json()
    developer.post(f"/api/v1/invitations/{invitation['token']}/accept")
    console.go(f"/workspaces/{ws}/members")
    row = console.page.get_by_role("row").filter(has_text=developer.account["email"])
    row.get_by_role("button", name="Block").click()
    expect(row.get_by_text("blocked")).to_be_visible()
    row.get_by_role("button", name="Unblock").click()
    expect(row.get_by_text("active")).to_be_visible()
    # a duplicate is a 409, shown in the form that caused it
    admin.post(f"/api/v1/workspaces/{ws}/miniprograms", json={"name": "Tickets"})
    console.go(f"/workspaces/{ws}/miniprograms")
    console.button("Create mini program").click()
    console.dialog().get_by_label("Name").fill("Tickets")
    console.dialog().get_by_role("button", name="Create").click()
    expect(console.dialog().get_by_role("alert")).to_contain_text("A mini program with that name exists")


def test_the_host_apps_curl_snippet_signs_a_delivery_request_that_the_platform_accepts(open_console, make_user, make_tenant):
    import subprocess

    from .test_console_lifecycle import _team

    admin = make_user("Admin")
    ws, app, _mp, _people = _team(admin, make_user, make_tenant)
    key = admin.post(f"/api/v1/workspaces/{ws}/apps/{app['id']}/keys", json={}).json()
    console = open_console(admin).go(f"/workspaces/{ws}/apps/{app['id']}")
    console.page.get_by_role("tab", name="curl").click()
    snippet = console.page.get_by_test_id("host-kit-snippet").filter(visible=True).inner_text()
    assert key["key_id"] in snippet
    filled = snippet.replace('SECRET="..."', f'SECRET="{key["secret"]}"')
    shell = subprocess.run(["bash", "-c", filled], capture_output=True, text=True, timeout=30)
    assert shell.returncode == 0, shell.stderr
    assert json.loads(shell.stdout) == {"items": []}, shell.stdout  # signed and accepted: nothing is released yet
