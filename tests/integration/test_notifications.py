"""Mail notifications end to end, read from a real SMTP server (aiosmtpd) that the workspace's
mail settings name: an approval that opens, its decision, a release; each member's choices."""

from __future__ import annotations

import email
import email.policy
import time

from .conftest import eventually
from .test_catalog import Team, team  # noqa: F401 - team is a fixture
from .test_launches import HOPS, approval_for, create_launch, decide, launch_path, new_app, new_version
from .test_workspace import SMTP_SETTINGS, smtp_server  # noqa: F401 - smtp_server is a fixture


def received(inbox, subject_part: str) -> dict[str, email.message.EmailMessage]:
    """The mail the sink received whose subject has `subject_part`, by recipient."""
    found = {}
    for recipients, raw in list(inbox.messages):
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if subject_part in message["Subject"]:
            for recipient in recipients:
                found[recipient] = message
    return found


def test_approvals_and_releases_are_mailed_to_whom_they_concern_through_the_workspaces_smtp_server(team: Team, smtp_server):
    port, inbox = smtp_server
    settings = {"service_email": SMTP_SETTINGS | {"smtp_port": port, "smtp_password": "smtp-pass-123"}, "domains": {"primary": None}}
    assert team.admin.put(f"{team.base}/settings", json=settings).status_code == 200
    # The other developer wants no release mail (and is not assigned to the mini program anyway).
    choices = f"{team.base}/notifications"
    assert team.other_developer.put(choices, json={"releases": False}).json() == {"approvals": True, "releases": False, "quality": True}
    assert team.other_developer.get(choices).json()["releases"] is False
    assert team.stranger.get(choices).status_code == 404
    time.sleep(1.0)  # identity's read model of the SMTP settings, fed by workspace.settings.updated

    app = new_app(team)
    version = new_version(team, "2.0.0")
    launch = create_launch(team.developer, team, version, app)
    assert team.developer.post(launch_path(team, launch["id"], "submit")).status_code == 200
    approval = approval_for(team.reviewer, team.ws, launch["id"])

    waiting = eventually(lambda: len(found := received(inbox, "Approval waiting")) >= 2 and found, timeout=HOPS)
    assert set(waiting) == {team.admin.account["email"], team.reviewer.account["email"]}  # not the applicant
    message = waiting[team.reviewer.account["email"]]
    assert message["From"] == "noreply@acme.example"
    assert f"/workspaces/{team.ws}/approvals/{approval['id']}" in message.get_content()

    assert decide(team.reviewer, team.ws, approval["id"], "approve", comment="Looks good").status_code == 200
    decided = eventually(lambda: received(inbox, "was approved"), timeout=HOPS)
    assert set(decided) == {team.developer.account["email"]}
    assert "Looks good" in decided[team.developer.account["email"]].get_content()

    eventually(lambda: team.admin.get(launch_path(team, launch["id"])).json()["status"] in ("ready", "pilot"), timeout=HOPS)
    assert team.developer.post(launch_path(team, launch["id"], "publish"), json={"percentage": 100}).status_code == 200
    released = eventually(lambda: received(inbox, "2.0.0 is released"), timeout=HOPS)
    assert set(released) == {team.admin.account["email"], team.developer.account["email"]}
    link = f"/workspaces/{team.ws}/miniprograms/{team.mp}/launches/{launch['id']}"
    assert link in released[team.admin.account["email"]].get_content()
