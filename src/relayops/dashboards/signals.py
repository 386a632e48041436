"""Panels of a provider's signals (build times, sanitizer changes, upload and OAuth ratios)."""

from __future__ import annotations

from grafana_foundation_sdk.cog.builder import Builder

from relayops.dashboards.common import per_series_thresholds, sel, targets, time_series
from relayops.spec.metrics import MetricDef
from relayops.spec.provider import ProviderSpec
from relayops.spec.series import QUANTILES, ProviderSeries
from relayops.spec.signals import Signal


def rate_unit(metric: MetricDef) -> str:
    """Bytes counters chart as bytes/s; every other counter as events/s."""
    return "Bps" if metric.base.endswith("_bytes") else "cps"


def _histogram(names: ProviderSeries, signal: Signal) -> Builder:
    queries = [
        (sel(names.signal_quantile(signal, key)), f"{{{{provider}}}} {key}") for key in QUANTILES
    ]
    panel = time_series(
        f"{signal.name}: p50 / p95 / p99",
        f"{signal.summary} Quantiles over {names.window}.",
        "s",
        targets(queries),
        width=8,
    )
    alert = signal.alert
    return per_series_thresholds(panel, {names.spec.provider: alert.levels()} if alert else {})


def _counter(names: ProviderSeries, signal: Signal) -> list[Builder]:
    metric = names.signal_metric(signal)
    queries = [(sel(names.signal_rate(signal)), "{{provider}} all")]
    queries += [
        (sel(names.signal_rate(signal, label)), f"{{{{provider}}}} {{{{{label}}}}}")
        for label in metric.values
    ]
    panels = [
        time_series(
            f"{signal.name}: rate",
            f"{signal.summary} Per second over {names.window}, in total and by "
            f"{', '.join(metric.values) or 'nothing else'}.",
            rate_unit(metric),
            targets(queries),
            width=8,
        )
    ]
    alert = signal.alert
    if alert is None:
        return panels
    if alert.kind == "per_request_above":
        series, unit, what = names.signal_per_request(signal), "none", "per send request"
    else:
        series, unit = names.signal_ratio(signal, alert.numerator), "percentunit"
        what = f"{'/'.join(alert.numerator)} share of {alert.label}"
    panel = time_series(
        f"{signal.name}: {what}",
        f"{signal.summary} The quantity its alert judges; lines mark the alert levels.",
        unit,
        targets([(sel(series), "{{provider}}")]),
        width=8,
    )
    return [*panels, per_series_thresholds(panel, {names.spec.provider: alert.levels()})]


def signal_panels(names: ProviderSeries, spec: ProviderSpec) -> list[Builder]:
    panels: list[Builder] = []
    for signal in spec.signals:
        if names.signal_metric(signal).type == "histogram":
            panels.append(_histogram(names, signal))
        else:
            panels += _counter(names, signal)
    return panels
