"""Where rendered files live, shared by the renderer and the generated tests."""

from __future__ import annotations

from typing import NamedTuple


class RulePaths(NamedTuple):
    """A provider's rule files, relative to the output folder (see relayops.rules.layout)."""

    recording: str  # send-path and signal recording rules
    slo: str  # SLO windows read from the raw counters, and the burn alerts
    period: str  # the period group alone: its tests must run at its own interval
    alerts: str  # send-path and operations alerts


def rule_paths(name: str) -> RulePaths:
    return RulePaths(
        f"prometheus/{name}.rules.yml",
        f"prometheus/{name}.slo.yml",
        f"prometheus/{name}.period.rules.yml",
        f"prometheus/{name}.alerts.yml",
    )


def for_tests(path: str) -> str:
    """A rendered file as seen from rendered/tests/."""
    return f"../{path}"
