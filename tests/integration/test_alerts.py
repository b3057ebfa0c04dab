"""Alert rules on the real processes: an admin makes a rule through the gateway, host apps send
sessions that crash, the alerts worker fires it once, and the audit log shows the system did."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import requests

from .conftest import eventually
from .test_telemetry import event, send, shop  # noqa: F401 - shop is a fixture
from .test_webhooks import HOPS, receiver  # noqa: F401 - receiver is a fixture


def test_a_crash_free_rule_fires_once_and_the_audit_log_says_so(platform, shop):  # noqa: F811 - the fixture
    rules = f"{shop.base}/alert-rules"
    mp = shop.mp["id"]
    # A developer may read rules, not make them; a share is 0 to 1.
    refused = shop.developer.post(rules, json={"miniprogram_id": mp, "kind": "crash_free_sessions_below", "threshold": 0.9})
    assert refused.status_code == 403, refused.text
    bad = shop.admin.post(rules, json={"miniprogram_id": mp, "kind": "crash_free_sessions_below", "threshold": 95})
    assert bad.status_code == 422, bad.text
    assert "threshold" in bad.text

    made = shop.admin.post(
        rules, json={"miniprogram_id": mp, "kind": "crash_free_sessions_below", "threshold": 0.9, "min_sessions": 20, "window_minutes": 15}
    )
    assert made.status_code == 201, made.text
    rule = made.json()
    assert (rule["state"], rule["min_sessions"], rule["window_minutes"], rule["created_by"]) == ("ok", 20, 15, shop.admin.account["id"])

    # 30 sessions, 9 of them crashed: 70 % crash-free, below 90 %.
    now = datetime.now(UTC)
    events = []
    for number in range(30):
        launch = event(shop, "app_launch", f"user-{number}", now, session_id=f"alert-s{number}", duration_ms=500)
        events.append(launch)
        if number < 9:
            events.append(event(shop, "js_error", f"user-{number}", now, session_id=f"alert-s{number}", properties={"message": "boom"}))
    sent = send(platform, shop.key_id, events)
    assert sent.status_code == 202 and not sent.json()["rejected"], sent.text

    firing = eventually(lambda: (answer := shop.admin.get(f"{rules}/{rule['id']}").json())["state"] == "firing" and answer, timeout=30)
    assert (firing["last_value"], firing["last_sessions"]) == (0.7, 30)
    assert firing["last_fired_at"] is not None
    assert shop.reviewer.get(rules, params={"miniprogram_id": mp}).json()["items"][0]["state"] == "firing"

    log = f"{shop.base}/audit-log"

    def fired() -> list[dict]:
        answer = shop.admin.get(log, params={"action": "telemetry.alert.fired"})
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]

    [entry] = eventually(fired, timeout=30)
    assert entry["actor"] == {"kind": "system", "id": "telemetry.alerts"}
    assert entry["subject"] == {"kind": "alert_rule", "id": rule["id"]}
    assert "Crash-free sessions" in entry["summary"] and "70.00%" in entry["summary"] and "90.00%" in entry["summary"]
    created = eventually(lambda: shop.admin.get(log, params={"action": "telemetry.alert_rule.created"}).json()["items"], timeout=30)
    assert [item["actor"]["id"] for item in created] == [shop.admin.account["id"]]

    # Still breaching a few evaluations later: said once.
    eventually(lambda: shop.admin.get(f"{rules}/{rule['id']}").json()["evaluated_at"] > firing["evaluated_at"], timeout=30)
    assert len(fired()) == 1

    assert shop.developer.delete(f"{rules}/{rule['id']}").status_code == 403
    assert shop.admin.delete(f"{rules}/{rule['id']}").status_code == 204
    assert shop.admin.get(f"{rules}/{rule['id']}").status_code == 404
    eventually(lambda: shop.admin.get(log, params={"action": "telemetry.alert_rule.deleted"}).json()["items"], timeout=30)


def test_a_new_crash_group_reaches_a_webhook_and_fires_its_rule(platform, shop, receiver):  # noqa: F811 - the fixtures
    made = shop.admin.post(f"{shop.base}/webhooks", json={"url": receiver.url, "events": ["quality.issue.created", "alert.fired"]})
    assert made.status_code == 201, made.text
    rule = shop.admin.post(f"{shop.base}/alert-rules", json={"miniprogram_id": shop.mp["id"], "kind": "new_issue"})
    assert rule.status_code == 201, rule.text
    assert rule.json()["threshold"] is None and rule.json()["window_minutes"] is None

    crash = {
        "event_id": "a1" * 16,
        "release": "shop@2.1.0",
        "level": "fatal",
        "exception": {"values": [{"type": "TypeError", "value": "x is undefined"}]},
    }
    url = f"{platform.gateway}/ingest/sentry/api/{shop.mp['telemetry_id']}/store/?sentry_key={shop.key_id}"
    for event_id in ("a1" * 16, "a1" * 16, "b2" * 16):  # sent twice, then one more of the same group
        assert requests.post(url, json=crash | {"event_id": event_id}, timeout=10).status_code == 200

    [(_headers, body)] = eventually(lambda: receiver.of("quality.issue.created"), timeout=HOPS)
    issue = json.loads(body)["data"]
    assert (issue["miniprogram_id"], issue["title"], issue["level"], issue["version"]) == (
        shop.mp["id"],
        "TypeError: x is undefined",
        "fatal",
        "2.1.0",
    )
    [(_headers, body)] = eventually(lambda: receiver.of("alert.fired"), timeout=HOPS)
    alert = json.loads(body)["data"]
    assert (alert["alert_rule_id"], alert["kind"], alert["issue_id"]) == (rule.json()["id"], "new_issue", issue["issue_id"])
    assert alert["summary"].startswith("New crash in ") and alert["summary"].endswith("version 2.1.0: TypeError: x is undefined")
    # One crash group, one of each, however many of its events came.
    assert len(receiver.of("quality.issue.created")) == len(receiver.of("alert.fired")) == 1
