"""The import-linter contract in pyproject.toml is live: the real tree keeps it, and the same
tree with one upward import (the spec model importing the drills) breaks it. Static analysis
only (import-linter parses the sources; nothing is imported)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_the_contract() -> None:
    done = lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_an_upward_import_breaks_it(tmp_path: Path) -> None:
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    spec = tmp_path / "src" / "relayops" / "spec" / "__init__.py"
    spec.write_text(spec.read_text() + "\nimport relayops.drill.plan  # upward, on purpose\n")
    done = lint(tmp_path)
    assert done.returncode != 0
    assert "Layers: each package imports only the packages below it" in done.stdout
    assert "relayops.spec -> relayops.drill.plan" in done.stdout


def test_the_tests_mirror_the_packages() -> None:
    """A test folder is named after the package it tests; faults/ and scenarios/ test across
    packages (real faults, the SRE Workbook's formulas) and data/ holds their inputs."""
    across = {"faults", "scenarios", "data", "__pycache__"}
    folders = {p.name for p in (REPO / "tests").iterdir() if p.is_dir()} - across
    packages = {
        p.name for p in (REPO / "src" / "relayops").iterdir() if (p / "__init__.py").is_file()
    }
    assert folders and folders <= packages, sorted(folders - packages)
