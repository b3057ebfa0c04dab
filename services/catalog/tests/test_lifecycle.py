"""The launch state machine and the per-user choice of what a host app delivers."""

from __future__ import annotations

import pytest

from mpdp_catalog.delivery import bucket, choose
from mpdp_catalog.lifecycle import ALLOWED_FROM, next_status
from mpdp_catalog.models import Deliverable
from mpdp_common.errors import Problem

STATUSES = ("created", "under_review", "pilot", "ready", "grayscale", "released", "rejected", "canceled", "archived", "offline", "rollback")


@pytest.mark.parametrize(
    ("status", "action", "options", "expected"),
    [
        ("created", "submit", {}, "under_review"),
        ("under_review", "withdraw", {}, "created"),
        ("under_review", "approve", {"whitelist": True}, "pilot"),
        ("under_review", "approve", {"whitelist": False}, "ready"),
        ("under_review", "reject", {}, "rejected"),
        ("pilot", "release", {"percentage": 5}, "grayscale"),
        ("ready", "release", {"percentage": 100}, "released"),
        ("grayscale", "release", {"percentage": 50}, "grayscale"),
        ("grayscale", "release", {"percentage": 100}, "released"),
        ("grayscale", "cancel", {}, "canceled"),
        ("released", "offline", {}, "offline"),
        ("offline", "online", {}, "released"),
        ("released", "archive", {}, "archived"),
        ("released", "roll_back", {}, "rollback"),
        ("archived", "restore", {}, "released"),
    ],
)
def test_allowed_transitions(status, action, options, expected):
    assert next_status(status, action, **options) == expected


@pytest.mark.parametrize("action", sorted(ALLOWED_FROM))
def test_every_other_start_is_a_conflict_naming_the_current_status(action):
    for status in set(STATUSES) - set(ALLOWED_FROM[action]):
        with pytest.raises(Problem) as refused:
            next_status(status, action, percentage=100)
        assert refused.value.status == 409 and f"is {status};" in refused.value.detail


def test_terminal_statuses_go_nowhere_but_a_rollback():
    for status in ("rejected", "canceled"):
        assert not [action for action, starts in ALLOWED_FROM.items() if status in starts]
    assert [action for action, starts in ALLOWED_FROM.items() if "archived" in starts] == ["restore"]


def test_buckets_are_stable_and_spread():
    assert bucket("launch-1", "ada") == bucket("launch-1", "ada")
    buckets = [bucket("launch-1", f"user-{number}") for number in range(10_000)]
    assert all(0 <= value < 100 for value in buckets)
    for percentage in (1, 10, 50, 90):
        share = sum(value < percentage for value in buckets) / len(buckets)
        assert abs(share - percentage / 100) < 0.02
    # Another launch draws other users.
    assert [bucket("launch-2", f"user-{n}") for n in range(50)] != buckets[:50]


def row(channel: str, version: str, **fields) -> Deliverable:
    values = dict(app_id="a", miniprogram_id="mp", channel=channel, launch_id=f"l-{channel}", name="Shop", version_id=f"v{version}")
    values |= dict(version=version, sha256="0" * 64, size=1, percentage=100, testers=[])
    return Deliverable(**(values | fields))


def test_choose_pilot_then_grayscale_then_released():
    rows = [row("released", "1.0.0"), row("grayscale", "2.0.0", percentage=40), row("pilot", "3.0.0", testers=["tess"])]
    assert choose(rows, "tess")[0]["version"] == "3.0.0"
    users = [f"user-{number}" for number in range(2000)]
    versions = [choose(rows, user)[0]["version"] for user in users]
    assert set(versions) == {"1.0.0", "2.0.0"}
    assert abs(versions.count("2.0.0") / len(users) - 0.40) < 0.04
    for user, version in zip(users, versions, strict=True):
        assert (version == "2.0.0") == (bucket("l-grayscale", user) < 40)
    [item] = choose(rows[:1], "ada")
    assert item == {
        "miniprogram_id": "mp",
        "name": "Shop",
        "version": "1.0.0",
        "version_id": "v1.0.0",
        "channel": "released",
        "package_url": "/client/v1/miniprograms/mp/versions/v1.0.0/package",
        "sha256": "0" * 64,
        "size": 1,
    }


def test_choose_nothing_without_a_release_outside_the_share():
    rows = [row("grayscale", "2.0.0", percentage=1), row("pilot", "3.0.0", testers=["tess"])]
    outside = next(f"user-{n}" for n in range(1000) if bucket("l-grayscale", f"user-{n}") >= 1)
    assert choose(rows, outside) == []
