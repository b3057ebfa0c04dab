"""What a host app delivers to its users: a read model kept per app, and the choice per user.

Each (app, mini program) has up to three rows, one per channel: the released version, a
grayscale version with its percentage, a pilot version with its testers. They are rewritten
whenever a launch of that pair changes (or the testers do), so that answering a phone is one
indexed read. A grayscale reaches a user when the stable hash of (launch, user) falls into the
first `percentage` of 100 buckets: the same user always gets the same answer, and raising the
percentage only adds users.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import Deliverable, Launch, MiniProgram, Tester, Version

#: the launch statuses that deliver a version, each to its own audience
CHANNELS = ("released", "grayscale", "pilot")


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
    for launch, version, miniprogram in rows:
        if launch.status == "pilot" and testers is None:
            testers = list(session.scalars(select(Tester.user_id).where(Tester.miniprogram_id == miniprogram_id)))
        session.add(
            Deliverable(
                app_id=app_id,
                miniprogram_id=miniprogram_id,
                channel=launch.status,
                launch_id=launch.id,
                name=miniprogram.name,
                version_id=version.id,
                version=version.version,
                sha256=version.sha256,
                size=version.size,
                percentage=launch.percentage or 100,
                testers=testers if launch.status == "pilot" else [],
            )
        )
    session.flush()


def refresh_miniprogram(session: Session, miniprogram_id: str) -> None:
    """After a change that every app of the mini program delivers (its name, its testers)."""
    apps = session.scalars(select(Deliverable.app_id).where(Deliverable.miniprogram_id == miniprogram_id).distinct()).all()
    for app_id in apps:
        refresh(session, miniprogram_id, app_id)


def package_path(miniprogram_id: str, version_id: str) -> str:
    return f"/client/v1/miniprograms/{miniprogram_id}/versions/{version_id}/package"


def choose(rows: list[Deliverable], user_id: str) -> list[dict]:
    """What `user_id` runs: a pilot if a tester, else a grayscale if in its share, else the release."""
    by_program: dict[str, dict[str, Deliverable]] = {}
    for row in rows:
        by_program.setdefault(row.miniprogram_id, {})[row.channel] = row
    items = []
    for miniprogram_id in sorted(by_program):
        channels = by_program[miniprogram_id]
        pilot, grayscale = channels.get("pilot"), channels.get("grayscale")
        chosen: Deliverable | None
        if pilot is not None and user_id in pilot.testers:
            chosen = pilot
        elif grayscale is not None and bucket(grayscale.launch_id, user_id) < grayscale.percentage:
            chosen = grayscale
        else:
            chosen = channels.get("released")
        if chosen is not None:
            items.append(
                {
                    "miniprogram_id": miniprogram_id,
                    "name": chosen.name,
                    "version": chosen.version,
                    "version_id": chosen.version_id,
                    "channel": chosen.channel,
                    "package_url": package_path(miniprogram_id, chosen.version_id),
                    "sha256": chosen.sha256,
                    "size": chosen.size,
                }
            )
    return items
