"""Alert rules on the real processes: an admin makes a rule through the gateway, host apps send
sessions that crash, the alerts worker fires it once, and the audit log shows the system did."""

from __future__ import annotations

from datetime import UTC, datetime

from .conftest import eventually
from .test_telemetry import event, send, shop  # noqa: F401 - shop is a fixture


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
