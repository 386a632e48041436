"""Proof that the cheap period ratio matches the exact event-weighted ratio on uneven traffic."""

from __future__ import annotations

from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.series import ProviderSeries
from rules_gen.build import Group
from rules_gen.promql import SeriesDB, format_duration, format_number, format_series
from rules_gen.recording import HOUR
from rules_gen.series import load_into, promtool_input_series
from rules_gen.simulate import RecordingRule, Simulation
from rules_gen.testgen.closure import prune
from rules_gen.testgen.recorded import expected_samples
from rules_gen.testgen.timeline import Timeline
from rules_gen.testgen.traffic import Traffic

STEP = 3600
TOLERANCE = 0.01
NAIVE_OFF_BY = 10
# (hours a day, requests per minute, bad requests per minute): quiet nights with a high
# failure share, busy days with a low one.
UNEVEN_DAY = ((8, 4, 0.4), (16, 400, 0.2))
STEADY = (600, 0.3)


def _traffic(specs: SpecSet, spec: ProviderSpec, total: float, bad: float) -> dict:
    """`bad` requests per minute fail and as many others are slow, out of `total`."""
    slow_bucket = max(specs.metric(Role.LATENCY).buckets)
    return Traffic(specs, spec).send(success=total - bad, error=bad, slow={slow_bucket: bad})


def _labels(spec: ProviderSpec, slo_name: str) -> str:
    return format_series(tuple(sorted({**spec.selector, "slo": slo_name}.items())))


def _selector(name: str, spec: ProviderSpec, slo_name: str) -> str:
    return name + _labels(spec, slo_name)


def _uneven_test(specs: SpecSet, spec: ProviderSpec) -> dict:
    names = ProviderSeries(specs.service, spec)
    days = max(s.period for s in spec.slos) // 86400
    timeline = Timeline(STEP)
    for _ in range(days):
        for hours, total, bad in UNEVEN_DAY:
            timeline.run(hours * HOUR, _traffic(specs, spec, total, bad))
    bad = sum(h * b for h, _, b in UNEVEN_DAY)
    total = sum(h * n for h, n, _ in UNEVEN_DAY)
    exact = bad / total
    checks = []
    end = format_duration(timeline.end)
    for slo in spec.slos:
        ratio = _selector(names.slo_error_ratio(slo.period), spec, slo.name)
        remaining = _selector(names.slo_budget_remaining(slo), spec, slo.name)
        naive = _selector(names.slo_error_ratio(HOUR), spec, slo.name)
        expected = [{"labels": _labels(spec, slo.name), "value": 1}]
        checks += [
            {
                "expr": f"abs({ratio} - {format_number(exact)}) / {format_number(exact)} "
                f"< bool {format_number(TOLERANCE)}",
                "eval_time": end,
                "exp_samples": expected,
            },
            {
                "expr": f"abs({remaining} - {format_number(1 - exact / slo.error_budget)}) "
                f"< bool {format_number(TOLERANCE)}",
                "eval_time": end,
                "exp_samples": expected,
            },
            {
                "expr": f"avg_over_time({naive}[{format_duration(slo.period)}]) / "
                f"{format_number(exact)} > bool {NAIVE_OFF_BY}",
                "eval_time": end,
                "exp_samples": expected,
            },
        ]
    return {
        "name": (
            f"{spec.name}: on uneven traffic the period ratio from recorded 1h rates is "
            f"within {TOLERANCE:.0%} of the exact event-weighted ratio {exact:.6g}, while a "
            f"time-average of 1h ratios is over {NAIVE_OFF_BY}x off"
        ),
        "interval": format_duration(STEP),
        "input_series": promtool_input_series(timeline.input_series()),
        "promql_expr_test": checks,
    }


def _steady_test(specs: SpecSet, spec: ProviderSpec, groups: list[Group]) -> dict:
    """Exact values of every period rule once a full period of steady traffic is recorded."""
    names = ProviderSeries(specs.service, spec)
    period = max(s.period for s in spec.slos)
    timeline = Timeline(STEP)
    timeline.run(period + HOUR, _traffic(specs, spec, *STEADY))
    series = timeline.input_series()
    db = SeriesDB()
    load_into(db, series, STEP)
    hourly = {n for s in spec.slos for n in (names.slo_errors(HOUR), names.slo_requests(HOUR))}
    Simulation(prune(groups, hourly), db, STEP).run_until(timeline.end)
    period_rules = [
        r for g in groups if g.interval for r in g.rules if isinstance(r, RecordingRule)
    ]
    for rule in period_rules:
        for labels, value in rule.expr.evaluate(db, timeline.end).items():
            db.add({**dict(labels), **rule.labels, "__name__": rule.record}, timeline.end, value)
    records = list(dict.fromkeys(r.record for r in period_rules))
    return {
        "name": f"{spec.name}: exact period ratios after a full period of steady traffic",
        "interval": format_duration(STEP),
        "input_series": promtool_input_series(series),
        "promql_expr_test": [
            {
                "expr": format_series((("__name__", name), ("provider", spec.provider))),
                "eval_time": format_duration(timeline.end),
                "exp_samples": expected_samples(db, name, spec.provider, timeline.end),
            }
            for name in records
        ],
    }


def period_tests(specs: SpecSet, spec: ProviderSpec, groups: list[Group]) -> tuple[int, list]:
    return STEP, [_uneven_test(specs, spec), _steady_test(specs, spec, groups)]
