"""docs/openapi.json is the document the running platform serves at `GET /api/v1/openapi.json`:
what clients generate their code from is what the platform says of itself."""

from __future__ import annotations

import json
from pathlib import Path

import requests

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = "Regenerate it with `make openapi` (scripts/openapi.py), look over the diff, and commit docs/openapi.json."


def _differences(committed: dict, served: dict) -> list[str]:
    """Where the two differ, in a few words: the operations and schemas added, removed or changed."""
    found = [
        f"{key}: differs"
        for key in sorted(set(committed) | set(served))
        if key not in ("paths", "components") and committed.get(key) != served.get(key)
    ]
    for section, old, new in (
        ("paths", committed.get("paths", {}), served.get("paths", {})),
        ("schemas", committed.get("components", {}).get("schemas", {}), served.get("components", {}).get("schemas", {})),
    ):
        for name in sorted(set(old) | set(new)):
            if name not in new:
                found.append(f"{section} {name}: only in docs/openapi.json")
            elif name not in old:
                found.append(f"{section} {name}: not in docs/openapi.json")
            elif old[name] != new[name]:
                found.append(f"{section} {name}: changed")
    if not found and committed.get("components") != served.get("components"):
        found.append("components: changed")
    return found


def test_the_committed_document_is_what_the_platform_serves(platform):
    served = requests.get(f"{platform.gateway}/api/v1/openapi.json", timeout=30).json()
    assert "description" not in served["info"], f"a service did not answer: {served['info']['description']}"
    committed = json.loads(DOCUMENT.read_text())
    if committed != served:
        differences = _differences(committed, served)
        raise AssertionError(
            "docs/openapi.json is not what the platform serves at GET /api/v1/openapi.json:\n  "
            + "\n  ".join(differences[:40])
            + ("\n  ..." if len(differences) > 40 else "")
            + f"\n{REGENERATE}"
        )
