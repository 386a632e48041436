"""Routing proof with no server: `amtool config routes test --verify.receivers` per alert."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

AMTOOL_JOBS = 8


def route_problem(amtool: str, config: Path, labels: dict[str, str], receiver: str) -> str | None:
    """None when an alert with `labels` routes to `receiver`; else what it reached instead."""
    done = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={config}",
            f"--verify.receivers={receiver}",
            *(f"{k}={v}" for k, v in labels.items()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return None
    return f"{labels['alertname']} {labels['severity']} -> {done.stdout.strip()}, not {receiver}"


def route_problems(
    amtool: str, config: Path, routes: Iterable[tuple[dict[str, str], str]]
) -> list[str]:
    """Every (labels, expected receiver) checked, AMTOOL_JOBS at a time; the failures."""
    with ThreadPoolExecutor(max_workers=AMTOOL_JOBS) as pool:
        found = pool.map(lambda route: route_problem(amtool, config, *route), routes)
        return [problem for problem in found if problem]
