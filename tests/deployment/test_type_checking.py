"""The type checker reads every package of the platform from its own folder: one that it could
not find would be taken as untyped, and every call into it would go unchecked."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_type_checker_finds_every_package():
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    services = [f"services/{folder.name}" for folder in (ROOT / "services").iterdir() if (folder / "pyproject.toml").exists()]
    assert sorted(settings["mypy_path"]) == sorted(["libs/common", "cli", "sdk/python", *services])
