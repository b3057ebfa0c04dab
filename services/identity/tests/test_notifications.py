"""Mail notifications, in-process: who is mailed about what, the members' choices, the workspace's
SMTP server or the platform's mail, and one quality mail an hour per issue."""

from __future__ import annotations

import email
import email.policy

import pytest
from sqlalchemy import select, update

from mpdp_common.crypto import secret_box
from mpdp_common.db import session_scope, utcnow
from mpdp_common.testing import Harness
from mpdp_identity.models import Account, Member, QueuedMail
from mpdp_identity.service import service

PASSWORD = "a long password"


@pytest.fixture
def harness(tmp_path):
    harness = Harness(service, tmp_path)
    yield harness
    harness.close()


def account(harness: Harness, name: str, verified: bool = True) -> str:
    answer = harness.http.post("/api/v1/accounts", json={"email": f"{name}@example.com", "password": PASSWORD, "name": name})
    assert answer.status_code == 201, answer.get_json()
    account_id = answer.get_json()["id"]
    with session_scope(harness.sessions) as session:
        session.execute(update(Account).where(Account.id == account_id).values(email_verified_at=utcnow() if verified else None))
    return account_id


def team(harness: Harness) -> dict[str, str]:
    """A tenant with an admin, a reviewer, two developers (one assigned to mp1) and an unverified admin."""
    people = {name: account(harness, name) for name in ("alice", "rita", "dev", "other")}
    people["ghost"] = account(harness, "ghost", verified=False)
    with session_scope(harness.sessions) as session:
        session.execute(QueuedMail.__table__.delete())  # the sign-ups' own verification mail
        for name, role in (("alice", "admin"), ("rita", "reviewer"), ("dev", "developer"), ("other", "developer"), ("ghost", "admin")):
            session.add(Member(workspace_id="ws1", account_id=people[name], role=role, status="active", revision=1))
    harness.deliver(
        "catalog.assignment.added",
        {"miniprogram_id": "mp1", "account_id": people["dev"], "workspace_id": "ws1", "assigned": True, "revision": 1},
        "ws1",
    )
    return people


def mails(harness: Harness) -> list[tuple[str | None, email.message.EmailMessage]]:
    """Each queued mail: the workspace whose server it goes through (None: the platform's), the message."""
    box = secret_box(harness.settings)
    with session_scope(harness.sessions) as session:
        rows = session.scalars(select(QueuedMail).order_by(QueuedMail.id)).all()
        found = [
            (row.workspace_id, email.message_from_string(box.decrypt(row.message_encrypted), policy=email.policy.default)) for row in rows
        ]
        session.execute(QueuedMail.__table__.delete())
    return found


def to(found) -> list[str]:
    return sorted(message["To"] for _, message in found)


def approval(people: dict[str, str], **extra) -> dict:
    return {
        "approval_id": "ap1",
        "workspace_id": "ws1",
        "type": "launch",
        "title": "Release 1.2.0 of Shop on Acme",
        "subject": {"kind": "launch", "id": "l1"},
        "applicant_id": people["dev"],
        **extra,
    }


def test_an_approval_is_mailed_to_reviewers_and_admins_and_its_decision_to_the_applicant(harness):
    people = team(harness)
    harness.deliver("approval.approval.opened", approval(people, opened_at="2026-12-08T10:00:00+00:00"), "ws1")
    opened = mails(harness)
    assert to(opened) == ["alice@example.com", "rita@example.com"]  # not the applicant, not an unverified address
    workspace_id, message = opened[0]
    assert workspace_id is None  # no SMTP server of the workspace's: the platform's mail
    body = message.get_content()
    assert "Release 1.2.0 of Shop on Acme" in message["Subject"]
    assert f"{harness.settings.public_url}/workspaces/ws1/approvals/ap1" in body

    decided = approval(people, status="approved", decided_by=people["rita"], decided_at="2026-12-08T11:00:00+00:00", comment="Ship it")
    harness.deliver("approval.approval.decided", decided, "ws1")
    [(_, message)] = mails(harness)
    assert message["To"] == "dev@example.com" and "approved" in message["Subject"] and "Ship it" in message.get_content()


def test_a_member_who_turned_a_kind_off_is_not_mailed_about_it(harness):
    people = team(harness)
    token = harness.http.post("/api/v1/auth/token", json={"email": "rita@example.com", "password": PASSWORD}).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert harness.http.get("/api/v1/workspaces/ws1/notifications", headers=headers).get_json() == {
        "approvals": True,
        "releases": True,
        "quality": True,
    }
    put = harness.http.put("/api/v1/workspaces/ws1/notifications", json={"approvals": False}, headers=headers)
    assert put.status_code == 200 and put.get_json() == {"approvals": False, "releases": True, "quality": True}
    assert harness.http.put("/api/v1/workspaces/ws1/notifications", json={"approvals": "no"}, headers=headers).status_code == 422
    assert harness.http.get("/api/v1/workspaces/ws2/notifications", headers=headers).status_code == 404
    harness.deliver("approval.approval.opened", approval(people, approval_id="ap2", opened_at="2026-12-08T10:00:00+00:00"), "ws1")
    assert to(mails(harness)) == ["alice@example.com"]


def test_a_halt_goes_to_admins_and_assigned_developers_through_the_workspaces_smtp_server(harness):
    team(harness)
    settings = {
        "workspace_id": "ws1",
        "revision": 1,
        "logo_url": None,
        "favicon_url": None,
        "service_email": {
            "sender": "noreply@acme.example",
            "smtp_host": "smtp.acme.example",
            "smtp_port": 587,
            "smtp_username": None,
            "smtp_password_encrypted": None,
        },
        "domains": {"primary": None, "alternatives": []},
        "require_mfa": False,
        "tester_whitelist_enabled": False,
        "about_us_url": None,
        "terms_of_service_url": None,
    }
    harness.deliver("workspace.settings.updated", settings, "ws1")
    launch = {
        "launch_id": "l1",
        "miniprogram_id": "mp1",
        "workspace_id": "ws1",
        "app_id": "app1",
        "version_id": "v1",
        "version": "1.2.0",
        "status": "halted",
        "previous_status": "grayscale",
        "revision": 3,
        "reason": "crash-free sessions 0.91 are below the floor 0.99",
    }
    harness.deliver("catalog.launch.status_changed", launch, "ws1")
    halted = mails(harness)
    assert to(halted) == ["alice@example.com", "dev@example.com"]
    workspace_id, message = halted[0]
    assert workspace_id == "ws1" and message["From"] == "noreply@acme.example"
    assert "halted" in message["Subject"] and "0.91" in message.get_content()
    harness.deliver("catalog.launch.status_changed", launch | {"status": "grayscale", "previous_status": "ready", "revision": 2}, "ws1")
    assert mails(harness) == []  # only halts and releases are mailed


def test_a_crash_issue_is_mailed_once_an_hour_at_most(harness):
    team(harness)
    issue = {
        "issue_id": "is1",
        "workspace_id": "ws1",
        "miniprogram_id": "mp1",
        "title": "TypeError: x is undefined",
        "culprit": "pages/cart.js",
        "level": "error",
        "version": "1.2.0",
        "first_seen": "2026-12-08T10:00:00+00:00",
    }
    harness.deliver("telemetry.issue.created", issue, "ws1")
    assert to(mails(harness)) == ["alice@example.com", "dev@example.com"]
    regressed = issue | {"resolved_in": "1.1.0", "regressed_at": "2026-12-08T10:30:00+00:00"}
    harness.deliver("telemetry.issue.regressed", regressed, "ws1")
    assert mails(harness) == []  # the same issue within the hour
    harness.deliver("telemetry.issue.created", issue | {"issue_id": "is2"}, "ws1")
    assert len(mails(harness)) == 2
