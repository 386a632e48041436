"""Observe a running Prometheus over a window: the live points, the static checks and the
critical alerts firing or pending at its end."""

from __future__ import annotations

import math
from contextlib import nullcontext
from pathlib import Path

import httpx

from relayops.drill.observe import PromReader, Samples
from relayops.report.live import Window, critical_alerts, live_points, selector
from relayops.report.model import Observation, Point
from relayops.report.offline import offline_points
from relayops.spec import SpecSet
from relayops.spec.series import ProviderSeries

PLOT_SAMPLES = 240  # range-query step = window / this, at least 1 s

ERROR_RATIO = "error ratio"
LATENCY = "latency p95 (s)"
BUDGET = "error budget remaining"


def _curves(
    reader: PromReader, specs: SpecSet, start: float, end: float
) -> dict[str, dict[str, Samples]]:
    """Title -> label -> samples: error ratio, latency p95 and budget remaining per provider;
    NaN samples (ratios of no traffic) are dropped, so a provider without traffic shows as
    "no data"."""
    step = max(1.0, (end - start) / PLOT_SAMPLES)
    curves: dict[str, dict[str, Samples]] = {ERROR_RATIO: {}, LATENCY: {}, BUDGET: {}}

    def add(title: str, label: str, query: str) -> None:
        series = [
            (one.labels, [(t, v) for t, v in one.samples if not math.isnan(v)])
            for one in reader.range(query, start, end, step)
        ]
        if len(series) <= 1:
            curves[title][label] = series[0][1] if series else []
            return
        for labels, samples in series:
            curves[title][f"{label} {selector('', labels)}"] = samples

    for spec in specs.providers:
        names = ProviderSeries(specs.service, spec)
        add(ERROR_RATIO, spec.name, selector(names.outcome_ratio("error"), spec.selector))
        add(LATENCY, spec.name, selector(names.latency_quantile("p95", False), spec.selector))
        for slo in spec.slos:
            budget = selector(names.slo_budget_remaining(slo), {**spec.selector, "slo": slo.name})
            add(BUDGET, f"{spec.name} {slo.name}", budget)
    return curves


def observe(
    specs: SpecSet,
    prometheus_url: str,
    since_s: int,
    now: float,
    drill_dir: Path,
    *,
    client: httpx.Client | None = None,
) -> Observation:
    """Measure the ten points over [now - since_s, now]. Raises ObserveError (naming the URL)
    when Prometheus cannot be read."""
    window = Window(now, since_s)
    with nullcontext(client) if client is not None else httpx.Client() as http:
        reader = PromReader(http, prometheus_url)
        live = live_points(reader, specs, window)
        firing = critical_alerts(reader, now, "firing")
        pending = critical_alerts(reader, now, "pending")
        curves = _curves(reader, specs, now - since_s, now)
    static: list[Point] = offline_points(specs, drill_dir)
    return Observation(
        since_s,
        now - since_s,
        now,
        tuple(live),
        tuple(static),
        tuple(firing),
        tuple(pending),
        curves,
    )
