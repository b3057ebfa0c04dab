"""What a host app delivers to its users: a read model kept per app, and the choice per user.

Each (app, mini program) has up to three rows, one per channel: the released version, a
grayscale version with its percentage, a pilot version with its testers. They are rewritten
whenever a launch of that pair changes (or the testers do), so that answering a phone is one
indexed read. A grayscale reaches a user when the stable hash of (launch, user) falls into the
first `percentage` of 100 buckets: the same user always gets the same answer, and raising the
percentage only adds users.

A launch may name the oldest host app version that runs it (`min_host_version`). A host that
says its version (`host_version=` in the signed query) and is too old for what it would get is
given the newest release it can run: the rows keep, after the current release, each earlier
release (archived, or rolled back) that asks for an older host than every newer one kept.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .models import Deliverable, Launch, LaunchStep, MiniProgram, Tester, Version

#: the launch statuses that deliver a version, each to its own audience
CHANNELS = ("released", "grayscale", "pilot")
#: the statuses of launches released before the current one
EARLIER_RELEASES = ("archived", "rollback")
#: earlier releases kept for hosts too old for the newer ones, at most
MAX_PREVIOUS = 5
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def semver_key(version: str) -> tuple:
    """Semantic versions in their order of precedence (a pre-release before its release); what is
    no semantic version orders before all of them."""
    match = _SEMVER.match(version)
    if match is None:
        return (-1,)
    major, minor, patch, pre = match.groups()
    # A release sorts after every pre-release of it; numeric identifiers before alphanumeric ones.
    identifiers = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split(".")) if pre else ()
    return (int(major), int(minor), int(patch), 0 if pre else 1, identifiers)


def runs_on(min_host_version: str | None, host_version: str | None) -> bool:
    """Whether a host of `host_version` (None: unknown, taken as able) runs what asks for `min_host_version`."""
    return min_host_version is None or host_version is None or semver_key(host_version) >= semver_key(min_host_version)


def bucket(launch_id: str, user_id: str) -> int:
    """The user's bucket, 0..99, for one launch."""
    digest = hashlib.sha256(f"{launch_id}\n{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def refresh(session: Session, miniprogram_id: str, app_id: str) -> None:
    """Rewrite the rows of one (app, mini program) from its launches."""
    session.execute(delete(Deliverable).where(Deliverable.app_id == app_id, Deliverable.miniprogram_id == miniprogram_id))
    rows = session.execute(
        select(Launch, Version, MiniProgram)
        .join(Version, Version.id == Launch.version_id)
        .join(MiniProgram, MiniProgram.id == Launch.miniprogram_id)
        .where(Launch.miniprogram_id == miniprogram_id, Launch.app_id == app_id, Launch.status.in_(CHANNELS))
    ).all()
    testers: list[str] | None = None
    channels = [(launch.status, launch, version, miniprogram) for launch, version, miniprogram in rows]
    released = next((launch for status, launch, _version, _miniprogram in channels if status == "released"), None)
    if released is not None and released.min_host_version is not None:
        channels += _previous_releases(session, miniprogram_id, app_id, released.min_host_version)
    for channel, launch, version, miniprogram in channels:
        if launch.status == "pilot" and testers is None:
            testers = list(session.scalars(select(Tester.user_id).where(Tester.miniprogram_id == miniprogram_id)))
        session.add(
            Deliverable(
                app_id=app_id,
                miniprogram_id=miniprogram_id,
                channel=channel,
                launch_id=launch.id,
                name=miniprogram.name,
                version_id=version.id,
                version=version.version,
                sha256=version.sha256,
                size=version.size,
                percentage=launch.percentage or 100,
                testers=testers if launch.status == "pilot" else [],
                min_host_version=launch.min_host_version,
            )
        )
    session.flush()


def _previous_releases(session: Session, miniprogram_id: str, app_id: str, current_min: str) -> list[tuple]:
    """The earlier releases, newest first, each asking for an older host than every newer one,
    as (channel, launch, version, mini program) rows: `previous1` is the first a host too old for
    the current release falls back to."""
    last_released = (
        select(LaunchStep.launch_id, func.max(LaunchStep.at).label("at"))
        .where(LaunchStep.status == "released")
        .group_by(LaunchStep.launch_id)
        .subquery()
    )
    earlier = session.execute(
        select(Launch, Version, MiniProgram)
        .join(Version, Version.id == Launch.version_id)
        .join(MiniProgram, MiniProgram.id == Launch.miniprogram_id)
        .join(last_released, last_released.c.launch_id == Launch.id)
        .where(Launch.miniprogram_id == miniprogram_id, Launch.app_id == app_id, Launch.status.in_(EARLIER_RELEASES))
        .order_by(last_released.c.at.desc())
    ).all()
    kept: list[tuple] = []
    oldest_host = semver_key(current_min)
    for launch, version, miniprogram in earlier:
        asks = semver_key(launch.min_host_version) if launch.min_host_version else None
        if asks is not None and asks >= oldest_host:
            continue  # a host too old for what is newer is too old for this one too
        kept.append((f"previous{len(kept) + 1}", launch, version, miniprogram))
        if asks is None or len(kept) == MAX_PREVIOUS:
            break  # every host runs it: nothing older is ever needed
        oldest_host = asks
    return kept


def refresh_miniprogram(session: Session, miniprogram_id: str) -> None:
    """After a change that every app of the mini program delivers (its name, its testers)."""
    apps = session.scalars(select(Deliverable.app_id).where(Deliverable.miniprogram_id == miniprogram_id).distinct()).all()
    for app_id in apps:
        refresh(session, miniprogram_id, app_id)


def package_path(miniprogram_id: str, version_id: str) -> str:
    return f"/client/v1/miniprograms/{miniprogram_id}/versions/{version_id}/package"


def choose(rows: list[Deliverable], user_id: str, host_version: str | None = None) -> list[dict]:
    """What `user_id` runs: a pilot if a tester, else a grayscale if in its share, else the
    release; for a host of `host_version`, the first of these it can run, else the newest earlier
    release it can run, else nothing."""
    by_program: dict[str, dict[str, Deliverable]] = {}
    for row in rows:
        by_program.setdefault(row.miniprogram_id, {})[row.channel] = row
    items = []
    for miniprogram_id in sorted(by_program):
        channels = by_program[miniprogram_id]
        pilot, grayscale = channels.get("pilot"), channels.get("grayscale")
        offered: list[Deliverable] = []
        if pilot is not None and user_id in pilot.testers:
            offered.append(pilot)
        if grayscale is not None and bucket(grayscale.launch_id, user_id) < grayscale.percentage:
            offered.append(grayscale)
        offered += [channels[name] for name in ("released", *(f"previous{n}" for n in range(1, MAX_PREVIOUS + 1))) if name in channels]
        chosen = next((row for row in offered if runs_on(row.min_host_version, host_version)), None)
        if chosen is not None:
            items.append(
                {
                    "miniprogram_id": miniprogram_id,
                    "name": chosen.name,
                    "version": chosen.version,
                    "version_id": chosen.version_id,
                    "channel": "released" if chosen.channel.startswith("previous") else chosen.channel,
                    "package_url": package_path(miniprogram_id, chosen.version_id),
                    "sha256": chosen.sha256,
                    "size": chosen.size,
                }
            )
    return items
