"""Launches, approvals, analytics and quality in the console. These endpoints come with the
approval and telemetry services: each test runs once the platform serves what it needs."""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime

import pytest
import requests
from playwright.sync_api import expect

from ..conftest import eventually
from ..test_catalog import team  # noqa: F401 - team is a fixture
from ..test_launches import HOPS, approved_launch, launch_path, new_app, new_version, released_launch
from ..test_rollouts import GUARD, host_app, ingest_sessions, launch_of, plan
from .conftest import package

LAUNCHES = "/api/v1/workspaces/{}/miniprograms/{}/launches"
APPROVALS = "/api/v1/workspaces/{}/approvals"
OVERVIEW = "/api/v1/workspaces/{}/analytics/overview"
ISSUES = "/api/v1/workspaces/{}/quality/issues"


def _team(admin, make_user, make_tenant):
    """A workspace with a host app, a mini program with one version, a developer assigned to it
    and a reviewer."""
    ws = make_tenant(admin)
    people = {}
    for role in ("developer", "reviewer"):
        person = make_user(role.title())
        invitation = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": person.account["email"], "role": role}).json()
        assert person.post(f"/api/v1/invitations/{invitation['token']}/accept").status_code == 200
        people[role] = person
    app = admin.post(
        f"/api/v1/workspaces/{ws}/apps", json={"name": "Super App", "platforms": ["ios"], "bundle_id": "com.example.super"}
    ).json()
    mp = admin.post(f"/api/v1/workspaces/{ws}/miniprograms", json={"name": "Coffee"}).json()
    developers = {"account_ids": [people["developer"].account["id"]]}
    eventually(lambda: admin.put(f"/api/v1/workspaces/{ws}/miniprograms/{mp['id']}/developers", json=developers).status_code == 200)
    version = admin.post(
        f"/api/v1/workspaces/{ws}/miniprograms/{mp['id']}/versions",
        data={"version": "1.0.0"},
        files={"package": ("coffee.zip", package(), "application/zip")},
    )
    assert version.status_code == 201, version.text
    return ws, app, mp, people


@pytest.mark.needs_api(LAUNCHES, APPROVALS)
def test_a_launch_is_submitted_approved_by_a_reviewer_and_published(open_console, make_user, make_tenant):
    admin = make_user("Admin")
    ws, app, mp, people = _team(admin, make_user, make_tenant)

    developer = open_console(people["developer"]).go(f"/workspaces/{ws}/miniprograms/{mp['id']}/launches")
    expect(developer.page.get_by_text("No launches yet: create one")).to_be_visible()
    developer.button("New launch").click()
    developer.dialog().get_by_label("Version").click()
    developer.page.get_by_title("1.0.0").click()
    developer.dialog().get_by_label("Host app").click()
    developer.page.get_by_title("Super App").click()
    developer.dialog().get_by_role("button", name="Create launch").click()
    developer.page.get_by_role("link", name="1.0.0").click()
    developer.button("Submit for review").click()
    status = developer.page.get_by_test_id("launch-status")
    expect(status).to_have_text("under review")
    developer.screenshot("launch-under-review")

    reviewer = open_console(people["reviewer"]).go(f"/workspaces/{ws}/approvals")
    request = reviewer.page.get_by_role("link", name=re.compile("Coffee|1.0.0|launch", re.I)).first
    reviewer.reload_until(lambda: request.is_visible())
    reviewer.screenshot("approvals")
    request.click()
    # the reviewer sees what is asked: the version's package beside what is live, and opens the launch
    subject = reviewer.page.get_by_test_id("approval-subject")
    expect(subject).to_contain_text("Live on Super App")
    expect(subject).to_contain_text("nothing released yet")
    expect(subject.get_by_role("button", name="Download package")).to_be_visible()
    reviewer.screenshot("approval-subject")
    subject.get_by_role("link", name="Open the launch").click()
    expect(reviewer.page.get_by_test_id("launch-status")).to_have_text("under review")
    expect(reviewer.button("Publish")).to_have_count(0)  # read-only for a reviewer
    reviewer.page.go_back()
    reviewer.button("Approve").click()
    reviewer.dialog().get_by_label("Comment").fill("Looks good")
    reviewer.dialog().get_by_role("button", name="Approve").click()
    expect(reviewer.page.get_by_test_id("approval-status")).to_have_text("approved")

    # the developer's page, left open, moves on by itself once the decision reaches the launch;
    # the developer plans a phased rollout, whose first step reaches 1% of users at once
    expect(status).to_have_text("ready", timeout=30_000)
    expect(developer.page.locator(".ant-timeline-item").last).to_contain_text("Looks good")
    developer.button("Plan a rollout").click()
    expect(developer.dialog().get_by_label("Phased over 7 days")).to_be_checked()
    developer.dialog().get_by_label("Crash-free sessions at least").fill("99.5")
    developer.dialog().get_by_role("button", name="Start rollout").click()
    rollout = developer.page.get_by_test_id("rollout-card")
    expect(developer.page.get_by_test_id("rollout-state")).to_have_text("running")
    expect(rollout.locator(".ant-steps-item")).to_have_count(7)
    expect(rollout.locator(".ant-steps-item-process")).to_contain_text("1%")
    expect(developer.page.get_by_test_id("rollout-next")).to_contain_text("Next step")
    expect(status).to_have_text("grayscale")
    developer.screenshot("launch-rollout")
    developer.button("Pause").click()
    expect(developer.page.get_by_test_id("rollout-state")).to_have_text("paused")
    developer.button("Resume").click()
    expect(developer.page.get_by_test_id("rollout-state")).to_have_text("running")

    # then the developer publishes by hand in two steps, each confirmed
    developer.page.get_by_label("Percentage of users").fill("50")
    developer.page.get_by_label("Percentage of users").blur()
    expect(developer.page.get_by_test_id("percentage-meaning")).to_contain_text("about 50% of users")
    developer.button("Publish").click()
    expect(developer.dialog()).to_contain_text("Publish 1.0.0 to 50% of the users of Super App?")
    developer.dialog().get_by_role("button", name="Publish").click()
    expect(developer.dialog()).to_be_hidden()
    expect(developer.page.locator(".ant-timeline-item").last).to_contain_text("grayscale to 50% of users")
    developer.page.get_by_label("Percentage of users").fill("100")
    developer.page.get_by_label("Percentage of users").blur()
    developer.button("Publish").click()
    expect(developer.dialog()).to_contain_text("Release 1.0.0 to every user of Super App?")
    developer.dialog().get_by_role("button", name="Publish").click()
    expect(status).to_have_text("released")
    timeline = developer.page.locator(".ant-timeline-item")
    expect(timeline).to_have_count(
        len(people["developer"].get(f"/api/v1/workspaces/{ws}/miniprograms/{mp['id']}/launches").json()["items"][0]["history"])
    )
    developer.screenshot("launch-detail")

    # the developer's own application shows under My Applications, decided
    developer.go(f"/workspaces/{ws}/approvals")
    expect(developer.page.get_by_role("tab", name="Approval Requests")).to_have_count(0)
    expect(developer.page.get_by_role("cell", name="approved", exact=True)).to_be_visible()


def _send_events(gateway: str, key_id: str, mp: str) -> requests.Response:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = []
    for user in ("u1", "u2", "u3"):
        session = secrets.token_hex(4)
        events += [
            {
                "event_id": secrets.token_hex(8),
                "type": "app_launch",
                "timestamp": now,
                "miniprogram_id": mp,
                "version": "1.0.0",
                "user_id": user,
                "session_id": session,
                "duration_ms": 800,
            },
            {
                "event_id": secrets.token_hex(8),
                "type": "page_view",
                "timestamp": now,
                "miniprogram_id": mp,
                "version": "1.0.0",
                "user_id": user,
                "session_id": session,
                "page": "pages/index/index",
                "duration_ms": 5000,
            },
            {
                "event_id": secrets.token_hex(8),
                "type": "custom",
                "name": "order_placed",
                "timestamp": now,
                "miniprogram_id": mp,
                "version": "1.0.0",
                "user_id": user,
                "session_id": session,
            },
            {
                "event_id": secrets.token_hex(8),
                "type": "session_end",
                "timestamp": now,
                "miniprogram_id": mp,
                "version": "1.0.0",
                "user_id": user,
                "session_id": session,
                "duration_ms": 60000,
            },
        ]
    return requests.post(f"{gateway}/ingest/v1/events", json={"sent_at": now, "events": events}, headers={"X-MPDP-Key": key_id}, timeout=10)


def _send_crash(gateway: str, key_id: str, telemetry_id: int) -> requests.Response:
    event_id = secrets.token_hex(16)
    event = {
        "event_id": event_id,
        "timestamp": time.time(),
        "platform": "javascript",
        "level": "error",
        "release": "1.0.0",
        "user": {"id": "u1"},
        "exception": {
            "values": [
                {
                    "type": "TypeError",
                    "value": "cart is undefined",
                    "stacktrace": {"frames": [{"filename": "pages/cart/cart.js", "function": "checkout", "lineno": 42, "colno": 7}]},
                }
            ]
        },
    }
    envelope = "\n".join([json.dumps({"event_id": event_id}), json.dumps({"type": "event"}), json.dumps(event)])
    return requests.post(
        f"{gateway}/ingest/sentry/api/{telemetry_id}/envelope/",
        data=envelope.encode(),
        headers={"Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key_id}"},
        timeout=10,
    )


@pytest.mark.needs_api(LAUNCHES, ISSUES)
def test_a_launch_its_guard_halted_says_why_beside_the_released_versions_health(open_console, platform, team):
    app = new_app(team)
    phones = host_app(team, app)
    released_launch(team, new_version(team, "1.0.0"), app)
    launch = approved_launch(team, new_version(team, "2.0.0"), app)
    plan(team, launch["id"], [(30, 600), (100, 0)], GUARD)
    eventually(lambda: team.admin.get(launch_path(team, launch["id"], "health")).status_code == 200, timeout=HOPS)
    ingest_sessions(platform, team, phones.key_id, "1.0.0", 30, 0)
    ingest_sessions(platform, team, phones.key_id, "2.0.0", 20, 6)
    eventually(lambda: launch_of(team, launch["id"])["status"] == "halted", timeout=60)

    developer = open_console(team.developer).go(f"/workspaces/{team.ws}/miniprograms/{team.mp}/launches/{launch['id']}")
    expect(developer.page.get_by_test_id("launch-status")).to_have_text("halted")
    expect(developer.page.get_by_test_id("halt-reason")).to_contain_text("crash-free sessions 70.00% are below the floor of 90.00%")
    expect(developer.page.get_by_test_id("health-verdict")).to_have_text("failing")
    health = developer.page.get_by_role("table").filter(has_text="This version (2.0.0)")
    expect(health).to_contain_text("Released (1.0.0)")
    expect(health.get_by_role("row").filter(has_text="Crash-free sessions")).to_contain_text("70%")
    expect(developer.page.locator(".ant-timeline-item").last).to_contain_text("halted at 30% of users")
    # a halted launch is published again, or canceled, by a person
    expect(developer.button("Publish")).to_be_enabled()
    expect(developer.button("Cancel launch", exact=False)).to_be_visible()
    developer.screenshot("launch-halted")

    # the quality page marks the days releases reached users, and charts each day's crash-free share
    developer.go(f"/workspaces/{team.ws}/quality")
    chart = developer.page.get_by_role("img", name="Crash-free sessions, Crash-free users")
    expect(chart).to_be_visible()
    marker = chart.get_by_test_id("release-marker")
    expect(marker).to_have_count(1)
    expect(marker.locator("title")).to_contain_text("1.0.0 released on")
    expect(marker.locator("title")).to_contain_text("2.0.0 grayscale to 30% on")
    expect(marker.locator("title")).to_contain_text("2.0.0 halted on")
    developer.screenshot("quality-releases")


@pytest.mark.needs_api(OVERVIEW, ISSUES)
def test_analytics_and_quality_show_what_the_host_app_sent(open_console, platform, make_user, make_tenant):
    admin = make_user("Admin")
    ws, app, mp, _ = _team(admin, make_user, make_tenant)
    key = admin.post(f"/api/v1/workspaces/{ws}/apps/{app['id']}/keys", json={}).json()
    # the telemetry service learns of the key and the mini program through events, a moment later
    eventually(lambda: (sent := _send_events(platform.gateway, key["key_id"], mp["id"])).status_code == 202 and not sent.json()["rejected"])
    eventually(lambda: _send_crash(platform.gateway, key["key_id"], mp["telemetry_id"]).status_code == 200)
    eventually(
        lambda: (
            admin.get(f"/api/v1/workspaces/{ws}/analytics/overview", params={"miniprogram_id": mp["id"]})
            .json()
            .get("totals", {})
            .get("active_users")
        ),
        timeout=20,
    )

    console = open_console(admin).go(f"/workspaces/{ws}/miniprograms/{mp['id']}/crash-reporting")
    console.page.get_by_label("Host app").click()
    console.page.get_by_title("Super App").click()
    expect(console.page.get_by_test_id("dsn")).to_contain_text(f"{key['key_id']}@")
    expect(console.page.get_by_test_id("dsn")).to_contain_text(f"/ingest/sentry/{mp['telemetry_id']}")
    expect(console.page.get_by_test_id("sentry-snippet")).to_contain_text(f'dsn: "http://{key["key_id"]}@')

    console.go(f"/workspaces/{ws}/analytics")
    expect(console.page.get_by_role("img", name="Active users, New users")).to_be_visible()
    expect(console.page.locator(".ant-statistic").filter(has_text="Active users")).to_contain_text("3")
    console.screenshot("analytics")
    console.page.get_by_role("tab", name="Page ranking").click()
    expect(console.page.get_by_role("cell", name="pages/index/index")).to_be_visible()
    console.page.get_by_role("tab", name="Retention").click()
    expect(console.page.get_by_test_id("retention")).to_be_visible()
    console.page.get_by_role("tab", name="Tracked events").click()
    console.page.get_by_role("cell", name="order_placed").click()
    expect(console.page.get_by_role("img", name="order_placed")).to_be_visible()

    console.go(f"/workspaces/{ws}/quality")
    issue = console.page.get_by_role("link", name=re.compile("cart is undefined"))
    console.reload_until(lambda: issue.is_visible())
    console.screenshot("quality")
    console.page.get_by_label("Order issues by").click()
    console.page.get_by_title("Most events").click()
    expect(issue).to_be_visible()
    issue.click()
    expect(console.page.get_by_test_id("stack-trace")).to_contain_text("checkout (pages/cart/cart.js:42:7)")
    console.screenshot("quality-issue")
    console.button("Resolve").click()
    expect(console.button("Reopen")).to_be_visible()


@pytest.mark.needs_api(APPROVALS)
def test_a_developer_workspace_is_applied_for_and_approved(open_console, make_user, make_tenant):
    admin = make_user("Admin")
    ws = make_tenant(admin)
    partner = make_user("Partner")
    invitation = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": partner.account["email"], "role": "developer"}).json()
    assert partner.post(f"/api/v1/invitations/{invitation['token']}/accept").status_code == 200

    console = open_console(partner).go("/workspaces")
    console.button("Apply for a developer workspace").click()
    console.dialog().get_by_label("Name").fill("Partner Studio")
    console.dialog().get_by_label("Tenant workspace").click()
    console.page.get_by_title("Acme").click()
    console.dialog().get_by_role("button", name="Apply").click()
    expect(console.dialog()).to_have_count(0)
    row = console.page.get_by_role("row").filter(has_text="Partner Studio")
    expect(row).to_contain_text("pending approval")
    console.screenshot("workspaces")

    deciding = open_console(admin).go(f"/workspaces/{ws}/approvals")
    request = deciding.page.get_by_role("link", name=re.compile("Partner Studio"))
    deciding.reload_until(lambda: request.is_visible())
    request.click()
    deciding.button("Approve").click()
    deciding.dialog().get_by_role("button", name="Approve").click()
    expect(deciding.page.get_by_test_id("approval-status")).to_have_text("approved")

    console.reload_until(lambda: "active" in row.inner_text())
    row.get_by_role("link", name="Partner Studio").click()
    expect(console.page.get_by_text("Workspace Admin")).to_be_visible()
