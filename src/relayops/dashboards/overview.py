"""Send-path overview: traffic, error ratio, latency by result, top error codes, signals."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders

from relayops.dashboards.common import (
    Levels,
    dashboard,
    per_series_thresholds,
    provider_variable,
    sel,
    stat_panel,
    targets,
    time_series,
    top_codes_panel,
)
from relayops.dashboards.signals import signal_panels
from relayops.spec import SpecSet
from relayops.spec.series import QUANTILES, ProviderSeries, quantile_key


def _levels(specs: SpecSet, kind: str) -> dict[str, Levels]:
    return {p.provider: getattr(p.thresholds, kind).levels() for p in specs.providers}


def overview_dashboard(specs: SpecSet) -> builders.Dashboard:
    # Recorded names do not depend on the provider (it is a label), so any provider's do.
    names = ProviderSeries(specs.service, specs.providers[0])
    window = names.window
    judged = "/".join(
        sorted({quantile_key(p.thresholds.latency.quantile) for p in specs.providers})
    )
    board = dashboard(
        specs,
        "overview",
        "Traffic, errors and latency of one provider's send path, from the relayops recording "
        "rules. Pick the provider above; alerts link here with it set.",
    ).with_variable(provider_variable(specs))
    board = board.with_row(builders.Row("Traffic and errors"))
    board = board.with_panel(
        stat_panel(
            "Request rate",
            f"Send requests per second over {window}, all outcomes.",
            "reqps",
            targets([(sel(names.request_rate), "{{provider}}")]),
        )
    )
    board = board.with_panel(
        per_series_thresholds(
            stat_panel(
                "Error ratio now",
                f"Share of send requests that failed over {window}; colours at the levels of "
                "the error-ratio alert.",
                "percentunit",
                targets([(sel(names.outcome_ratio("error")), "{{provider}}")]),
            ),
            _levels(specs, "error_ratio"),
        )
    )
    board = board.with_panel(
        time_series(
            "Requests by result",
            f"Send requests per second by status (success, error, rejected) over {window}.",
            "reqps",
            targets([(sel(names.request_rate_by_status), "{{provider}} {{status}}")]),
        )
    )
    board = board.with_panel(
        per_series_thresholds(
            time_series(
                "Error ratio",
                f"Failed / all send requests over {window}. Lines mark the warning and critical "
                "levels of the error-ratio alert of each provider.",
                "percentunit",
                targets([(sel(names.outcome_ratio("error")), "{{provider}}")]),
            ),
            _levels(specs, "error_ratio"),
        )
    )
    board = board.with_panel(
        per_series_thresholds(
            time_series(
                "Latency by result",
                f"p50, p95 and p99 of send latency over {window}, split by status (a fast "
                "error must not hide a slow success). Lines mark the levels of the latency "
                f"alert, which judges the {judged} of all requests.",
                "s",
                targets(
                    (
                        sel(names.latency_quantile(key, by_status=True)),
                        f"{{{{provider}}}} {{{{status}}}} {key}",
                    )
                    for key in QUANTILES
                ),
            ),
            _levels(specs, "latency"),
        )
    )
    board = board.with_panel(top_codes_panel(names))
    for spec in specs.providers:
        panels = signal_panels(ProviderSeries(specs.service, spec), spec)
        if panels:
            row = builders.Row(f"{spec.display_name} signals (provider {spec.provider})")
            for panel in panels:
                row = row.with_panel(panel)
            board = board.with_row(row.collapsed(True))
    return board
