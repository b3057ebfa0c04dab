"""The README's event table says what the code declares: every event with its version and
producer, and which services take it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from mpdp_common import contracts
from mpdp_common.service import installed_services

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(?P<names>[a-z_./]+)` \| (?P<version>\d+) \| (?P<producer>[^|]+) \|(?P<takers>[^|]*)\|$")


def table() -> dict[tuple[str, int], tuple[str, str]]:
    """(type, version) -> (producer cell, taken-by cell); `a.b.c/d` stands for a.b.c and a.b.d."""
    text = README.read_text()
    lines = text[text.index("| event | v | from | taken by |") :].splitlines()[2:]
    rows = {}
    for line in lines:
        if not line.startswith("|"):
            break
        match = ROW.match(line)
        assert match, f"README event table row not understood: {line}"
        first, *others = match["names"].split("/")
        prefix = first.rsplit(".", 1)[0]
        for name in [first, *(f"{prefix}.{verb}" for verb in others)]:
            key = (name, int(match["version"]))
            assert key not in rows, f"{name} v{key[1]} is listed twice"
            rows[key] = (match["producer"].strip(), match["takers"].strip())
    return rows


def handlers() -> dict[str, set[tuple[str, int]]]:
    return {name: set(service.events.handlers) for name, service in installed_services().items() if service.events is not None}


def test_the_table_lists_every_declared_event_and_nothing_else():
    assert sorted(table()) == contracts.declared()


def test_each_event_is_listed_under_its_producer():
    for (event_type, version), (producer, _) in table().items():
        assert producer.split()[0].rstrip(",") == event_type.split(".")[0], f"{event_type} v{version}"


def test_the_taken_by_column_names_exactly_the_services_that_handle_the_event():
    handled = handlers()
    for key, (_, takers) in table().items():
        named = {part.split()[0] for part in re.sub(r"\([^)]*\)", "", takers).split(",") if part.strip()}
        if takers.startswith("every service"):
            # every other service, and the producer itself where the row names it too
            expected = {name for name in handled if name != key[0].split(".")[0]} | (named & set(handled))
        else:
            expected = named & set(handled)
        actual = {name for name, keys in handled.items() if key in keys}
        assert actual == expected, f"{key[0]} v{key[1]}: the README says {takers!r}, the handlers are in {sorted(actual)}"


def test_mpdpctl_events_prints_every_event_with_its_producer_and_handlers():
    printed = subprocess.run(
        [sys.executable, "-m", "mpdp_common.launcher", "events", "--json"], capture_output=True, text=True, check=True, timeout=60
    )
    rows = {(row["type"], row["version"]): row for row in json.loads(printed.stdout)}
    assert sorted(rows) == contracts.declared()
    handled = handlers()
    for key, row in rows.items():
        assert row["producer"] == key[0].split(".")[0]
        assert sorted(taker.split(":")[0] for taker in row["handlers"]) == sorted(name for name, keys in handled.items() if key in keys)
    assert rows[("workspace.workspace.created", 1)]["handlers"], "a consumed event names its handlers"
    assert rows[("identity.account.registered", 1)]["handlers"] == [], "an event nobody takes is listed as such"
