"""Rollout controller dashboard: percentage per provider, decisions, last success, failures."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders

from relayops.dashboards.common import (
    Levels,
    dashboard,
    per_series_thresholds,
    provider_variable,
    sel,
    targets,
    time_series,
)
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.metrics import Role


def controller_dashboard(specs: SpecSet) -> builders.Dashboard:
    percent = specs.metric(Role.CONTROLLER_PERCENT).name
    decisions = specs.metric(Role.CONTROLLER_DECISIONS).name
    runs = specs.metric(Role.CONTROLLER_RUNS).name
    last_success = specs.metric(Role.CONTROLLER_LAST_SUCCESS).name
    window = max(p.thresholds.controller_failing.window for p in specs.providers)
    w = format_duration(window)
    stalled: dict[str, Levels] = {
        p.provider: (("warning", float(p.thresholds.controller_stalled.max_age)),)
        for p in specs.providers
    }
    failing: dict[str, Levels] = {
        p.provider: (("warning", p.thresholds.controller_failing.failure_ratio),)
        for p in specs.providers
    }
    board = dashboard(
        specs,
        "controller",
        "What the rollout controller did for each provider: the rollout percentage it set, its "
        "decisions, when it last succeeded and how often its runs fail.",
    ).with_variable(provider_variable(specs, include_all=True))
    board = board.with_panel(
        time_series(
            "Rollout percentage",
            "Share of traffic on the new send path, per provider, as the controller last set it.",
            "percent",
            targets([(f"max by (provider) ({sel(percent)})", "{{provider}}")]),
        )
        .min(0)
        .max(100)
    )
    board = board.with_panel(
        time_series(
            "Decisions per hour",
            "Controller decisions (promote, hold, rollback, pause) per hour, by result.",
            "short",
            targets(
                [
                    (
                        f"sum by (provider, result) (increase({sel(decisions)}[1h]))",
                        "{{provider}} {{result}}",
                    )
                ]
            ),
        )
    )
    board = board.with_panel(
        per_series_thresholds(
            time_series(
                "Age of last successful run",
                "Seconds since the controller last succeeded (now − the last-success timestamp "
                "gauge). The line marks the age at which the stalled alert fires.",
                "s",
                targets([(f"time() - max by (provider) ({sel(last_success)})", "{{provider}}")]),
            ),
            stalled,
        )
    )
    board = board.with_panel(
        per_series_thresholds(
            time_series(
                "Failed runs",
                f"Failed / all controller runs over {w}, as the failing alert judges them.",
                "percentunit",
                targets(
                    [
                        (
                            f"sum by (provider) (rate({sel(runs, {'status': 'failure'})}[{w}]))"
                            f" / sum by (provider) (rate({sel(runs)}[{w}]))",
                            "{{provider}}",
                        )
                    ]
                ),
            ),
            failing,
        )
    )
    return board
