"""Helpers for tests that need a modified copy of the shipped specs."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "specs"


def copy_specs(target: Path) -> Path:
    folder = target / "specs"
    shutil.copytree(SPECS, folder)
    return folder


def edit_yaml(path: Path, change) -> None:
    """Load a spec, let `change(data)` modify it, write it back."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
