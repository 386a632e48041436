"""The drill report: Markdown with PNG plots from Prometheus range queries, and the score.

Called while the drill's stack is still up. Timeline times are seconds since the scenario
started; `started_at` (unix time of that start) maps them onto Prometheus' clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import nullcontext
from pathlib import Path

import httpx

from relayops.dashboards import render_dashboards
from relayops.drill.observe import ObserveError, PromReader
from relayops.drill.plan import DrillPlan, Expected
from relayops.drill.plots import Panel, Points, Window, plot_burn, plot_signal, plot_timeline
from relayops.drill.run import DrillResult, Timeline, clearing, detection
from relayops.drill.score import Point, inhibitors, tabletop_score
from relayops.promql.base import Expr
from relayops.promql.binary import COMPARISONS, Binary
from relayops.rules.alert_def import AlertDef
from relayops.runbooks import render_runbooks
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.series import ProviderSeries
from relayops.stack import Stack

STEP_SECONDS = 1


class RangeReader:
    """Range queries over the drill's span, each remembered for the report when empty."""

    def __init__(self, client: httpx.Client, prometheus_url: str, start: float, end: float):
        self.reader = PromReader(client, prometheus_url)
        self.url = f"{self.reader.base}/api/v1/query_range"
        self.start = start
        self.end = end
        self.empty: list[str] = []

    def points(self, query: str, scale: float = 1.0) -> Points:
        """Samples of the query's single series as (seconds since start, value / scale)."""
        found = self.reader.range(query, self.start, self.end, STEP_SECONDS)
        if len(found) > 1:
            raise ObserveError(f"{self.url} query {query!r}: expected at most one series")
        values = found[0].samples if found else []
        if not values:
            self.empty.append(query)
        return [(t - self.start, v / scale) for t, v in values]


def _selector(name: str, labels: dict[str, str]) -> str:
    matchers = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{matchers}}}"


def _secs(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f}s"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _burn_plots(
    reader: RangeReader, plan: DrillPlan, window: Window, out: Path, stem: str
) -> list[str]:
    """One burn-rate plot per SLO with an expected burn alert; Markdown image lines."""
    scaled = plan.scaled
    spec = scaled.provider(plan.provider)
    names = ProviderSeries(scaled.service, spec)
    by_slo: dict[str, list[Expected]] = {}
    for e in plan.fires:
        if e.alert.is_burn and e.alert.slo is not None:
            by_slo.setdefault(e.alert.slo.name, []).append(e)
    lines = []
    for slo_name, expected in sorted(by_slo.items()):
        slo = expected[0].alert.slo
        match = {**spec.selector, "slo": slo_name}
        burns: dict[str, Points] = {}
        factors: dict[str, float] = {}
        for e in expected:
            tier = e.alert.tier
            factors[tier.name] = tier.factor(slo.period)
            for seconds in (tier.long_window, tier.short_window):
                label = f"{tier.name} {format_duration(seconds)}"
                query = _selector(names.slo_error_ratio(seconds), match)
                burns[label] = reader.points(query, slo.error_budget)
        path = plot_burn(
            out / f"{stem}-burn-{slo_name}.png", f"{slo_name} burn rate", burns, factors, window
        )
        lines.append(f"![{slo_name} burn rate]({path.name})")
    return lines


def _expected_rows(specs: SpecSet, result: DrillResult) -> list[list[str]]:
    plan, timeline, phases = result.plan, result.timeline, result.phases
    rows = []
    for e in plan.fires:
        measured, theory = detection(plan, phases, timeline, e)
        resolved = timeline.resolved.get(e.ref)
        notified = sorted(r for ref, status, r in timeline.notified if ref == e.ref)
        held = inhibitors(specs, timeline, e.ref)
        seen = timeline.suppressed.get(e.ref)
        allowed = plan.allowed(e.ref)
        gap = "—" if measured is None else f"{measured - theory:+.1f}s (±{allowed:g}s)"
        rows.append(
            [
                f"`{e.ref}`",
                _secs(theory),
                _secs(measured),
                gap,
                _secs(clearing(plan, phases, e)),
                _secs(None if resolved is None else resolved - phases.fault_end),
                f"`{e.receiver}`",
                ", ".join(f"`{r}`" for r in dict.fromkeys(notified)) or "none",
                (", ".join(f"`{h}`" for h in held) or "—")
                + ("" if seen is None else f" (suppressed at {_secs(seen)})"),
            ]
        )
    return rows


def _timeline_rows(timeline: Timeline) -> list[list[str]]:
    refs = sorted({*timeline.pending, *timeline.firing, *timeline.resolved, *timeline.suppressed})
    return [
        [f"`{ref}`"]
        + [_secs(d.get(ref)) for d in (timeline.pending, timeline.firing, timeline.resolved)]
        + [_secs(timeline.suppressed.get(ref))]
        for ref in refs
    ]


def _score_lines(points: tuple[Point, ...]) -> list[str]:
    passed = sum(p.ok for p in points)
    rows = [
        [str(i), p.name, "pass" if p.ok else "FAIL", p.evidence] for i, p in enumerate(points, 1)
    ]
    return [
        f"## Tabletop score: {passed}/{len(points)}",
        "",
        *_table(["#", "Check", "Result", "Evidence"], rows),
    ]


EXPECTED_HEADER = (
    "Alert",
    "Detection (theory)",
    "Detection (measured)",
    "Difference",
    "Reset (theory)",
    "Reset (measured)",
    "Receiver (expected)",
    "Notified",
    "Inhibited by",
)


def _notification_rows(timeline: Timeline) -> list[list[str]]:
    ordered = sorted(timeline.notified.items(), key=lambda item: (item[1], item[0]))
    return [
        [_secs(t), f"`{ref}`", status, f"`{receiver}`"] for (ref, status, receiver), t in ordered
    ]


def alert_quantity(alert: AlertDef) -> Expr | None:
    """The quantity an alert compares with its level (`q > level and on() guard` -> q)."""
    expr = alert.rule.expr
    while isinstance(expr, Binary) and expr.op == "and":
        expr = expr.lhs
    return expr.lhs if isinstance(expr, Binary) and expr.op in COMPARISONS else None


def _signal_panels(
    reader: RangeReader, plan: DrillPlan, names: ProviderSeries, spec
) -> list[Panel]:
    """One panel per expected alert that is not a burn tier (those have burn plots): the
    quantity it watches against its levels; the error ratio when no such alert is expected."""
    panels: dict[str, tuple[Expr, dict[str, float]]] = {}
    for e in plan.fires:
        quantity = alert_quantity(e.alert)
        if e.alert.is_burn or quantity is None or e.alert.level is None:
            continue
        panels.setdefault(e.alert.name, (quantity, {}))[1][e.alert.severity] = e.alert.level
    if not panels:
        ratio = reader.points(_selector(names.outcome_ratio("error"), spec.selector))
        return [Panel("error ratio", {"error ratio": ratio}, {})]
    return [
        Panel(name, {name: reader.points(quantity.render())}, levels)
        for name, (quantity, levels) in panels.items()
    ]


def _plots(reader: RangeReader, plan: DrillPlan, window: Window, out: Path, stem: str) -> list[str]:
    """The signal and burn-rate plots (the range queries); Markdown image lines."""
    scaled = plan.scaled
    spec = scaled.provider(plan.provider)
    names = ProviderSeries(scaled.service, spec)
    signal = plot_signal(
        out / f"{stem}-signal.png",
        {"request rate": reader.points(_selector(names.request_rate, spec.selector))},
        _signal_panels(reader, plan, names, spec),
        window,
    )
    return [
        f"![injected signal]({signal.name})",
        *_burn_plots(reader, plan, window, out, stem),
    ]


def _markdown(
    specs: SpecSet,
    result: DrillResult,
    window: Window,
    timeline_image: str,
    plots: list[str],
    empty: list[str],
) -> str:
    plan, timeline = result.plan, result.timeline
    points = tabletop_score(specs, result, render_dashboards(specs), render_runbooks(specs))
    no_data = ["No data (plotted as such):", "", *[f"- `{q}`" for q in empty], ""]
    lines = [
        f"# Drill report: {plan.scenario.name} on {plan.provider}",
        "",
        f"Rules time-scaled ×{plan.scale}, {plan.rate:g} req/s in production time "
        f"({plan.pushed_rate:g} pushed). Scenario {_secs(plan.run_seconds)}"
        f" (fault from {_secs(window.fault_start)} to {_secs(window.fault_end)}), then "
        f"{_secs(plan.recovery_seconds)} of healthy traffic. Times are seconds since the "
        f"scenario started. Run checks: {'PASS' if result.passed else 'FAIL'}.",
        "",
        *_score_lines(points),
        "",
        "## Expected alerts",
        "",
        "Detection is measured from the fault's start (Prometheus' activeAt + `for`), reset "
        "from its end. Theory is the window math on the pushed traffic (with the "
        f"{_secs(result.phases.prefix)} of healthy data the run had before the fault) plus "
        "the push, scrape and evaluation delay (the scrape and the alert's evaluation as "
        "measured: how old the pushed data was when the alert went pending); a run passes "
        "within two evaluation "
        f"intervals (±{plan.tolerance:g}s), and for an alert reading a window of the period "
        "group half of each period interval more (that window changes only once an interval).",
        "",
        *_table(EXPECTED_HEADER, _expected_rows(specs, result)),
        "",
        "## Alert timeline",
        "",
        f"![alert timeline]({timeline_image})",
        "",
        *_table(["Alert", "Pending", "Firing", "Resolved", "Inhibited"], _timeline_rows(timeline)),
        "",
        "## Notifications",
        "",
        *_table(["Arrived", "Alert", "Status", "Receiver"], _notification_rows(timeline)),
        "",
        "## Injected signal and burn rates",
        "",
        *[line for image in plots for line in (image, "")],
        *(no_data if empty else []),
        "## Run checks",
        "",
        *[f"- {'ok' if c.ok else 'FAIL'} {c.name}: {c.evidence}" for c in result.checks],
        *[f"- `{ref}`: {plan.too_slow_note(ref)}" for ref in plan.too_slow],
    ]
    return "\n".join(lines) + "\n"


def write_report(
    specs: SpecSet,
    stack: Stack,
    result: DrillResult,
    out_dir: Path,
    *,
    client: httpx.Client | None = None,
) -> Path:
    """Write `<scenario>-<provider>.md` and its PNGs into `out_dir`; return the Markdown path.

    Range-queries Prometheus over [result.started_at, now], so the stack must still be up.
    Raises ObserveError (a RuntimeError naming the URL and query) when Prometheus fails.
    """
    plan, started_at = result.plan, result.started_at
    stem = f"{plan.scenario.name}-{plan.provider}"
    out_dir.mkdir(parents=True, exist_ok=True)
    end = time.time()
    window = Window(result.phases.fault_start, result.phases.fault_end, end - started_at)
    with nullcontext(client) if client is not None else httpx.Client() as http:
        reader = RangeReader(http, stack.prometheus_url, started_at, end)
        plots = _plots(reader, plan, window, out_dir, stem)
    chart = plot_timeline(out_dir / f"{stem}-timeline.png", result.timeline, window)
    path = out_dir / f"{stem}.md"
    path.write_text(_markdown(specs, result, window, chart.name, plots, reader.empty))
    return path
