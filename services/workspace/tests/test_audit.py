"""The audit log: one row per change, from the events of every service, with who made it, for
admins only, newest first, filtered, exported as NDJSON; never a secret, never changed."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from mpdp_common.contracts import Actor
from mpdp_common.db import drop_database, ensure_database, make_engine, session_scope, utcnow
from mpdp_common.events import Event
from mpdp_common.migrations import upgrade
from mpdp_common.testing import TEST_DATABASE_SERVER, postgres_answers
from mpdp_workspace import api_audit, audit
from mpdp_workspace.models import AuditEntry
from mpdp_workspace.schemas import SUBJECT_KINDS

APP = {"name": "ACME super app", "platforms": ["ios"], "bundle_id": "com.acme.superapp"}
SETTINGS = {
    "service_email": {
        "sender": "noreply@acme.example",
        "smtp_host": "smtp.acme.example",
        "smtp_port": 587,
        "smtp_username": "mailer",
        "smtp_password": "s3cret-pass",
    },
    "domains": {"primary": None, "alternatives": []},
    "tester_whitelist_enabled": False,
}


def consume_outbox(harness, after: int = 0) -> int:
    """Hand what the service published (from the `after`th envelope on) to its own consumer, as
    the relay and the broker would; how many envelopes there are now."""
    envelopes = harness.published()
    for envelope in envelopes[after:]:
        event = Event.from_json(json.dumps(envelope))
        if harness.events.handler_for(event) is not None:
            harness.deliver(
                event.type,
                envelope["payload"],
                event.workspace_id,
                id=event.id,
                occurred_at=event.occurred_at,
                correlation_id=event.correlation_id,
                actor=event.actor,
                traceparent=event.traceparent,
            )
    return len(envelopes)


def log(harness, ws, account="alice", **query):
    answer = harness.call("GET", f"/api/v1/workspaces/{ws}/audit-log", account, query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def rows(harness):
    with session_scope(harness.sessions) as session:
        return session.scalars(select(AuditEntry).order_by(AuditEntry.at)).all()


def test_every_audited_event_is_declared_handled_and_about_a_known_subject(harness):
    for event_type, audited in audit.AUDITED.items():
        assert (event_type, 1) in harness.events.handlers, event_type
        assert audited.subject_kind in SUBJECT_KINDS


def test_an_accounts_and_an_api_keys_changes_are_logged_with_who_made_them_newest_first(harness):
    ws = harness.tenant("alice", bob="developer")
    seen = consume_outbox(harness)
    app = harness.call("POST", f"/api/v1/workspaces/{ws}/apps", "alice", json=APP, headers={"X-Request-Id": "req-app"}).get_json()
    key = harness.call("POST", f"/api/v1/workspaces/{ws}/api-keys", "alice", json={"label": "ci", "role": "developer"}).get_json()
    consume_outbox(harness, seen)
    # What the key does elsewhere (an upload at the catalog) comes as the catalog's event.
    harness.deliver(
        "catalog.version.uploaded",
        {
            "version_id": "v1",
            "miniprogram_id": "mp1",
            "workspace_id": ws,
            "version": "1.0.0",
            "sha256": "ab" * 32,
            "size": 2048,
            "uploaded_by": "alice",
            "uploaded_at": utcnow().isoformat(),
        },
        ws,
        actor=Actor.api_key(key["id"], "alice"),
        correlation_id="req-upload",
    )

    items = log(harness, ws)["items"]
    assert [item["action"] for item in items[:3]] == ["catalog.version.uploaded", "workspace.api_key.created", "workspace.app.created"]
    upload, key_made, app_made = items[:3]
    assert upload["actor"] == {"kind": "api_key", "id": key["id"], "on_behalf_of": "alice"}
    assert upload["subject"] == {"kind": "version", "id": "v1"} and upload["request_id"] == "req-upload"
    assert upload["summary"] == "Version 1.0.0 of mini program mp1 uploaded (2048 bytes)"
    assert app_made["actor"] == {"kind": "account", "id": "alice"} and "on_behalf_of" not in app_made["actor"]
    assert app_made["subject"] == {"kind": "app", "id": app["id"]} and app_made["request_id"] == "req-app"
    assert app_made["summary"] == "Host app “ACME super app” created (com.acme.superapp)"
    assert key_made["summary"] == "API key " + key["id"] + " created with the role developer"
    # The members that came from identity are in it too, before all of this.
    assert {item["action"] for item in items[3:]} >= {"identity.member.added", "workspace.workspace.created"}

    assert [item["action"] for item in log(harness, ws, action="workspace.app.created")["items"]] == ["workspace.app.created"]
    assert [item["id"] for item in log(harness, ws, actor_id=key["id"])["items"]] == [upload["id"]]
    # An account's id finds what it did itself and through its keys.
    by_alice = {item["action"] for item in log(harness, ws, actor_id="alice")["items"]}
    assert {"catalog.version.uploaded", "workspace.api_key.created", "workspace.app.created"} <= by_alice


def test_only_admins_read_it(harness):
    ws = harness.tenant("alice", bob="developer", carol="reviewer", dan="blocked")
    for account in ("bob", "carol", "dan"):
        assert harness.call("GET", f"/api/v1/workspaces/{ws}/audit-log", account).status_code == 403
        assert harness.call("GET", f"/api/v1/workspaces/{ws}/audit-log/export", account).status_code == 403
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/audit-log", "zed").status_code == 404
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/audit-log").status_code == 401


def test_no_secret_reaches_the_log_or_its_export(harness):
    ws = harness.tenant("alice")
    seen = consume_outbox(harness)
    app = harness.call("POST", f"/api/v1/workspaces/{ws}/apps", "alice", json=APP).get_json()
    app_key = harness.call("POST", f"/api/v1/workspaces/{ws}/apps/{app['id']}/keys", "alice", json={"label": "prod"}).get_json()
    api_key = harness.call("POST", f"/api/v1/workspaces/{ws}/api-keys", "alice", json={"label": "ci", "role": "reviewer"}).get_json()
    assert harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=SETTINGS).status_code == 200
    consume_outbox(harness, seen)
    harness.deliver(
        "identity.invitation.created",
        {
            "invitation_id": "i1",
            "email": "eve@acme.example",
            "role": "developer",
            "expires_at": utcnow().isoformat(),
            "token_encrypted": "CIPHER",
        },
        ws,
        actor=Actor.account("alice"),
    )
    secrets = [app_key["secret"], api_key["token"], "s3cret-pass", "CIPHER"]
    secrets += [envelope["payload"]["token_hash"] for envelope in harness.published("workspace.api_key.created")]
    secrets += [
        envelope["payload"]["service_email"]["smtp_password_encrypted"] for envelope in harness.published("workspace.settings.updated")
    ]
    listed = json.dumps(log(harness, ws, limit=200))
    exported = harness.call("GET", f"/api/v1/workspaces/{ws}/audit-log/export", "alice").get_data(as_text=True)
    stored = json.dumps([[getattr(row, column.key) for column in AuditEntry.__table__.columns] for row in rows(harness)], default=str)
    for secret in secrets:
        assert secret not in listed and secret not in exported and secret not in stored
    actions = {item["action"] for item in json.loads(listed)["items"]}
    assert {
        "workspace.app_key.created",
        "workspace.api_key.created",
        "workspace.settings.updated",
        "identity.invitation.created",
    } <= actions


def test_the_export_streams_ndjson_oldest_first_in_chunks(harness, monkeypatch):
    monkeypatch.setattr(api_audit, "EXPORT_CHUNK", 2)
    ws = harness.tenant("alice")
    start = (utcnow() - timedelta(days=3)).replace(hour=12, minute=0)
    for n in range(5):
        harness.deliver(
            "workspace.app.created",
            {
                "app_id": f"app{n}",
                "workspace_id": ws,
                "name": f"App {n}",
                "platforms": ["ios"],
                "bundle_id": "com.a.b",
                "android_cert_fingerprints": [],
            },
            ws,
            actor=Actor.account("alice"),
            occurred_at=(start + timedelta(days=n // 2, minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
    answer = harness.call("GET", f"/api/v1/workspaces/{ws}/audit-log/export", "alice")
    assert answer.status_code == 200 and answer.mimetype == "application/x-ndjson"
    assert answer.is_streamed
    lines = [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]
    apps = [line["subject"]["id"] for line in lines if line["action"] == "workspace.app.created"]
    assert apps == [f"app{n}" for n in range(5)]
    assert [line["at"] for line in lines] == sorted(line["at"] for line in lines)
    assert set(lines[0]) == {"id", "at", "actor", "action", "subject", "summary", "request_id"}

    first_day = (start + timedelta(days=1)).date().isoformat()
    ranged = harness.call("GET", f"/api/v1/workspaces/{ws}/audit-log/export", "alice", query_string={"from": first_day, "to": first_day})
    assert [json.loads(line)["subject"]["id"] for line in ranged.get_data(as_text=True).splitlines()] == ["app2", "app3"]
    listed = log(harness, ws, **{"from": first_day, "to": first_day})["items"]
    assert [item["subject"]["id"] for item in listed] == ["app3", "app2"]
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/audit-log", "alice", query_string={"from": "yesterday"}).status_code == 422
    backwards = {"from": first_day, "to": start.date().isoformat()}
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/audit-log", "alice", query_string=backwards).status_code == 422


def test_pages_go_by_cursor_newest_first(harness):
    ws = harness.tenant("alice")
    for n in range(5):
        harness.deliver("workspace.api_key.revoked", key_state(ws, f"k{n}"), ws, actor=Actor.account("alice"))
    seen, cursor = [], None
    while True:
        page = log(harness, ws, action="workspace.api_key.revoked", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [item["subject"]["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"k{n}" for n in reversed(range(5))]


def key_state(ws, key_id):
    return {
        "api_key_id": key_id,
        "workspace_id": ws,
        "role": "developer",
        "token_hash": "f" * 64,
        "revoked_at": utcnow().isoformat(),
        "created_by": "alice",
    }


def test_an_event_makes_one_row_however_often_it_comes(harness):
    ws = harness.tenant("alice")
    event = harness.deliver("workspace.api_key.revoked", key_state(ws, "k1"), ws, actor=Actor.account("alice"))
    with session_scope(harness.sessions) as session:
        audit.record(session, harness.events.read(event))  # past the inbox too
    harness.deliver("workspace.api_key.revoked", key_state(ws, "k1"), ws, id=event.id, actor=Actor.account("alice"))
    assert [row.event_id for row in rows(harness)].count(event.id) == 1


def test_told_again_and_outside_a_workspace_is_no_change_and_an_old_event_names_who_it_can(harness):
    ws = harness.tenant("alice")
    before = len(rows(harness))
    harness.deliver("workspace.api_key.created", key_state(ws, "k1"), ws, actor=Actor.system("workspace.announce"))
    harness.deliver("workspace.api_key.created", key_state(ws, "k2"), None, actor=Actor.account("alice"))
    assert len(rows(harness)) == before
    harness.deliver("workspace.api_key.created", key_state(ws, "k3"), ws)
    harness.deliver(
        "identity.member.blocked", {"workspace_id": ws, "account_id": "bob", "role": "developer", "status": "blocked", "revision": 2}, ws
    )
    by_subject = {row.subject_id: row for row in rows(harness)}
    assert (by_subject["k3"].actor_kind, by_subject["k3"].actor_id) == ("account", "alice")
    assert (by_subject["bob"].actor_kind, by_subject["bob"].actor_id) == ("system", "identity")


@pytest.mark.parametrize(
    ("previous", "status", "percentage", "reason", "sentence"),
    [
        (None, "created", None, None, "Launch of version 1.2.0 on app app1: new → created"),
        ("ready", "grayscale", 10, None, "Launch of version 1.2.0 on app app1: ready → grayscale at 10 %"),
        (
            "grayscale",
            "halted",
            10,
            "crash-free sessions 0.91 below 0.99",
            "Launch of version 1.2.0 on app app1: grayscale → halted (crash-free sessions 0.91 below 0.99)",
        ),
        ("grayscale", "grayscale", 10, None, "Rollout of version 1.2.0 on app app1 is changed (grayscale)"),
    ],
)
def test_every_launch_status_reads_as_a_sentence(harness, previous, status, percentage, reason, sentence):
    ws = harness.tenant("alice")
    state = {
        "launch_id": "l1",
        "miniprogram_id": "mp1",
        "workspace_id": ws,
        "app_id": "app1",
        "version_id": "v1",
        "version": "1.2.0",
        "status": status,
        "previous_status": previous,
        "percentage": percentage,
        "changed_by": None,
        "revision": 1,
        "rollout": None,
        "reason": reason,
        "figures": None,
    }
    harness.deliver("catalog.launch.status_changed", state, ws, actor=Actor.system("telemetry.guard"))
    (entry,) = log(harness, ws, action="catalog.launch.status_changed")["items"]
    assert entry["summary"] == sentence and entry["actor"] == {"kind": "system", "id": "telemetry.guard"}


def test_rows_past_the_retention_are_purged_and_it_is_never_under_400_days(harness):
    ws = harness.tenant("alice")
    now = utcnow()
    for days in (10, 399, 401, 800):
        harness.deliver(
            "workspace.api_key.revoked",
            key_state(ws, f"k{days}"),
            ws,
            actor=Actor.account("alice"),
            occurred_at=(now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
    with session_scope(harness.sessions) as session:
        assert audit.purge(session, retention_days=30, now=now) == 2
    with session_scope(harness.sessions) as session:
        kept = set(session.scalars(select(AuditEntry.subject_id).where(AuditEntry.action == "workspace.api_key.revoked")))
        assert kept == {"k10", "k399"}
        assert session.scalar(select(func.count()).select_from(AuditEntry)) >= 2


@pytest.mark.skipif(not postgres_answers(), reason="needs the local PostgreSQL")
def test_on_postgresql_a_row_is_never_updated_and_only_deleted():
    url = f"{TEST_DATABASE_SERVER}/mpdp_audit_{secrets.token_hex(4)}"
    ensure_database(url)
    engine = make_engine(url)
    try:
        upgrade("mpdp_workspace", url)
        entry = {"id": "e1", "workspace_id": "w1", "at": utcnow(), "actor_kind": "account", "actor_id": "alice"}
        entry |= {"action": "workspace.app.created", "subject_kind": "app", "subject_id": "a1", "summary": "Host app created"}
        entry["event_id"] = "ev1"
        with engine.begin() as connection:
            connection.execute(insert(AuditEntry), entry)
        with pytest.raises(DBAPIError, match="never changed"), engine.begin() as connection:
            connection.execute(update(AuditEntry).values(summary="rewritten"))
        with engine.begin() as connection:
            assert connection.scalar(select(AuditEntry.summary)) == "Host app created"
            connection.execute(delete(AuditEntry))
            assert connection.scalar(select(func.count()).select_from(AuditEntry)) == 0
    finally:
        engine.dispose()
        drop_database(url)


def test_alert_rules_and_the_alerts_they_fire_are_logged(harness):
    ws = harness.tenant("alice")
    rule = {
        "alert_rule_id": "r1",
        "workspace_id": ws,
        "miniprogram_id": "mp1",
        "kind": "crash_free_sessions_below",
        "threshold": 0.995,
        "min_sessions": 100,
        "window_minutes": 60,
        "min_errors": None,
    }
    harness.deliver("telemetry.alert_rule.created", rule | {"created_by": "alice"}, ws, actor=Actor.account("alice"))
    fired = {
        "alert_rule_id": "r1",
        "workspace_id": ws,
        "miniprogram_id": "mp1",
        "kind": "crash_free_sessions_below",
        "threshold": 0.995,
        "window_minutes": 60,
        "min_sessions": 100,
        "value": 0.97,
        "sessions": 400,
        "issue_id": None,
        "summary": "Crash-free sessions of Shop are 97.00% over the last 60 minutes (12 of 400 sessions crashed), below 99.50%.",
        "fired_at": "2026-12-01T10:00:00Z",
    }
    harness.deliver("telemetry.alert.fired", fired, ws, actor=Actor.system("telemetry.alerts"))
    harness.deliver("telemetry.alert_rule.deleted", rule | {"deleted_by": "alice"}, ws, actor=Actor.account("alice"))
    entries = {entry["action"]: entry for entry in log(harness, ws)["items"]}
    assert (
        entries["telemetry.alert_rule.created"]["summary"]
        == "Alert rule crash_free_sessions_below 0.995 over 60 min of mini program mp1 created"
    )
    assert (
        entries["telemetry.alert_rule.deleted"]["summary"]
        == "Alert rule crash_free_sessions_below 0.995 over 60 min of mini program mp1 deleted"
    )
    alert = entries["telemetry.alert.fired"]
    assert alert["summary"] == f"Alert fired: {fired['summary']}"
    assert (alert["actor"], alert["subject"]) == ({"kind": "system", "id": "telemetry.alerts"}, {"kind": "alert_rule", "id": "r1"})
