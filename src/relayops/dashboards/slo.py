"""SLO dashboard: objective, error budget over the period, burn rate per tier, burn alerts."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog.builder import Builder

from relayops.dashboards.common import (
    DATASOURCE,
    Levels,
    custom_variable,
    dashboard,
    per_series_thresholds,
    provider_variable,
    sel,
    stat_panel,
    targets,
    threshold_config,
    time_series,
)
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.series import ProviderSeries
from relayops.spec.slo import SLO, BurnTier

LEGEND = "{{provider}} {{slo}}"
BUDGET_LEVELS: Levels = (("warning", 0.0), ("ok", 0.25))


def _union(exprs: list[str]) -> str:
    """One query over series whose name depends on the SLO's period (`a or b`)."""
    return " or ".join(dict.fromkeys(exprs))


def _slo_sel(series: str) -> str:
    return sel(series, slo="slo")


def _burn_rate(names: ProviderSeries, seconds: int) -> str:
    ratio = _slo_sel(names.slo_error_ratio(seconds))
    return f"{ratio} / on (provider, action, slo) (1 - {_slo_sel(names.slo_objective)})"


def _tiers(specs: SpecSet) -> dict[tuple[str, int, int, float], tuple[BurnTier, list[str]]]:
    """Distinct burn tiers (name, windows, factor) and the `provider slo` pairs that use them."""
    tiers: dict[tuple[str, int, int, float], tuple[BurnTier, list[str]]] = {}
    for spec in specs.providers:
        for slo in spec.slos:
            for tier in slo.tiers:
                key = (tier.name, tier.long_window, tier.short_window, tier.factor(slo.period))
                tiers.setdefault(key, (tier, []))[1].append(f"{spec.provider} {slo.name}")
    return tiers


def _burn_panel(
    names: ProviderSeries, key: tuple[str, int, int, float], tier: BurnTier, users: list[str]
) -> Builder:
    name, long_window, short_window, factor = key
    long_text, short_text = format_duration(long_window), format_duration(short_window)
    queries = [
        (_burn_rate(names, long_window), f"{LEGEND} {long_text}"),
        (_burn_rate(names, short_window), f"{LEGEND} {short_text}"),
    ]
    return time_series(
        f"Burn rate, {name}: {long_text} and {short_text} windows",
        f"Error ratio over each window divided by the error budget (1 − objective). The "
        f"{tier.severity} tier {name} fires when both windows stay above {factor:g}× for "
        f"{format_duration(tier.for_)}. Tier of: {', '.join(users)}.",
        "suffix:×",
        targets(queries),
    ).thresholds(threshold_config(((tier.severity, factor),)))


def _budget_levels(specs: SpecSet) -> dict[str, Levels]:
    return {
        f"{spec.provider} {slo.name}": (("critical", slo.error_budget),)
        for spec in specs.providers
        for slo in spec.slos
    }


def _slos(specs: SpecSet) -> list[SLO]:
    return [slo for spec in specs.providers for slo in spec.slos]


def slo_dashboard(specs: SpecSet) -> builders.Dashboard:
    names = ProviderSeries(specs.service, specs.providers[0])
    slo_names = list(dict.fromkeys(slo.name for slo in _slos(specs)))
    remaining = _union([_slo_sel(names.slo_budget_remaining(slo)) for slo in _slos(specs)])
    period_ratio = _union([_slo_sel(names.slo_error_ratio(slo.period)) for slo in _slos(specs)])
    board = (
        dashboard(
            specs,
            "slo",
            "Objective, error budget and burn rate of one SLO of one provider. Burn alerts "
            "(ALERTS) show as annotations; burn-alert notifications link here.",
        )
        .with_variable(provider_variable(specs))
        .with_variable(custom_variable("slo", "SLO", [(n, n) for n in slo_names]))
        .annotation(
            builders.AnnotationQuery()
            .name("Burn alerts firing")
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color("red")
            .expr(sel("ALERTS", {"alertstate": "firing"}, slo="slo"))
        )
    )
    board = board.with_row(builders.Row("Objective and error budget"))
    board = board.with_panel(
        stat_panel(
            "Objective",
            "Share of events the SLO promises to serve well over its period.",
            "percentunit",
            targets([(_slo_sel(names.slo_objective), LEGEND)], instant=True),
        ).decimals(2)
    )
    board = board.with_panel(
        stat_panel(
            "Error budget remaining",
            "1 − (bad events / all events over the period) / (1 − objective); below 0 the "
            "budget is spent.",
            "percentunit",
            targets([(remaining, LEGEND)], instant=True),
        ).thresholds(threshold_config(BUDGET_LEVELS, base="critical"))
    )
    board = board.with_panel(
        per_series_thresholds(
            stat_panel(
                "SLI error ratio over the period",
                "Event-weighted bad / all events over the SLO period; red above the budget.",
                "percentunit",
                targets([(period_ratio, LEGEND)], instant=True),
                width=12,
            ).decimals(3),
            _budget_levels(specs),
        )
    )
    board = board.with_panel(
        time_series(
            "Error budget remaining over the period",
            "How the remaining error budget of the period evolved (recorded every "
            f"{format_duration(specs.service.period_rules_interval)}).",
            "percentunit",
            targets([(remaining, LEGEND)]),
            width=24,
        ).thresholds(threshold_config(BUDGET_LEVELS, base="critical"))
    )
    board = board.with_row(builders.Row("Burn rate per alert tier"))
    for key, (tier, users) in _tiers(specs).items():
        board = board.with_panel(_burn_panel(names, key, tier, users))
    return board
