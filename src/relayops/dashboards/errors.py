"""Structured-errors analysis: codes, sources, coarse reasons, validation share, cardinality."""

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
from relayops.spec import SpecSet
from relayops.spec.series import ProviderSeries


def errors_dashboard(specs: SpecSet) -> builders.Dashboard:
    names = ProviderSeries(specs.service, specs.providers[0])
    window = names.window
    cardinality: dict[str, Levels] = {
        p.provider: (("warning", p.thresholds.error_code_cardinality.max_codes + 1.0),)
        for p in specs.providers
    }
    validation = {p.provider: p.thresholds.validation_error_ratio.levels() for p in specs.providers}
    board = dashboard(
        specs,
        "structured_errors",
        "Which structured error codes a provider returns, from which source, and how they "
        "relate to traffic.",
    ).with_variable(provider_variable(specs))
    board = board.with_panel(top_codes_panel(names))
    board = board.with_panel(
        per_series_thresholds(
            stat_panel(
                "Distinct error codes",
                f"Codes seen over {window}; orange above the cardinality alert's level.",
                "short",
                targets([(sel(names.structured_error_code_count), "{{provider}}")]),
            ),
            cardinality,
        )
    )
    board = board.with_panel(
        per_series_thresholds(
            stat_panel(
                "Validation errors / requests",
                f"Structured errors of source validation per send request over {window}.",
                "percentunit",
                targets([(sel(names.structured_source_ratio("validation")), "{{provider}}")]),
            ),
            validation,
        )
    )
    board = board.with_panel(
        time_series(
            "Errors by code",
            f"Structured errors per second over {window}, by code and source.",
            "cps",
            targets([(sel(names.structured_error_rate), "{{code}} ({{source}})")]),
        )
    )
    board = board.with_panel(
        time_series(
            "Errors by source",
            f"Structured errors per second over {window}, summed by source.",
            "cps",
            targets([(f"sum by (source) ({sel(names.structured_error_rate)})", "{{source}}")]),
        )
    )
    board = board.with_panel(
        per_series_thresholds(
            time_series(
                "Validation errors share of traffic",
                "Validation errors / send requests; lines mark the validation alert levels.",
                "percentunit",
                targets([(sel(names.structured_source_ratio("validation")), "{{provider}}")]),
            ),
            validation,
        )
    )
    board = board.with_panel(
        time_series(
            "Failed requests by reason",
            f"Failed send actions per second over {window}, by coarse reason.",
            "cps",
            targets([(sel(names.error_reason_rate), "{{reason}}")]),
        )
    )
    return board
