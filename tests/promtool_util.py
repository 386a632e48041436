"""Running the real promtool from tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)"
)


def run_promtool_test(tmp_path: Path, document: dict[str, object]) -> None:
    """Write a promtool test document and assert `promtool test rules` passes it."""
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    promtool = shutil.which("promtool")
    assert promtool is not None
    proc = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
