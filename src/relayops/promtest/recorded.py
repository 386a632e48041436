"""A promql_expr_test with the exact expected value of every recording rule."""

from __future__ import annotations

from relayops.promql import Matcher, Selector, SeriesDB, format_duration, format_series
from relayops.promql.simulate import RecordingRule, Simulation
from relayops.promtest.cache import SimulationCache, key_of
from relayops.promtest.scenarios import MINUTE, GenerationError
from relayops.promtest.timeline import Timeline
from relayops.promtest.traffic import Traffic, merge
from relayops.rules.build import Group
from relayops.rules.series import load_into, promtool_input_series
from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec

EVAL_AT = 60 * MINUTE
UNIT = 1080  # requests per minute: every window's rate is a multiple of 1/4, summed exactly


def rich_traffic(specs: SpecSet, spec: ProviderSpec) -> dict:
    """Every series of the provider with distinct, non-zero rates."""
    t = Traffic(specs, spec)
    latency = specs.metric(Role.LATENCY)
    slow = max(latency.buckets)
    parts = [t.send(success=36 * UNIT, error=3 * UNIT, rejected=UNIT, slow={slow: 2 * UNIT})]
    for i, reason in enumerate(specs.metric(Role.ERRORS).values["reason"]):
        parts.append(t.error_reasons(reason, UNIT * (i + 1)))
    structured = specs.metric(Role.STRUCTURED_ERRORS)
    sources = structured.values["source"]
    for i, code in enumerate(structured.values["code"][:7]):
        parts.append(t.structured(code, sources[i % len(sources)], UNIT * (i + 1)))
    for signal in spec.signals:
        metric = specs.metric(signal.metric)
        if metric.type == "histogram":
            b = metric.buckets
            parts.append(
                t.histogram(signal.metric, {b[0]: 20 * UNIT, b[len(b) // 2]: 4 * UNIT, b[-1]: UNIT})
            )
        elif metric.values:
            label, values = next(iter(metric.values.items()))
            fixed = {k: v[0] for k, v in metric.values.items() if k != label}
            for i, value in enumerate(values):
                parts.append(
                    t.counter(signal.metric, UNIT * (len(values) - i), **{label: value}, **fixed)
                )
        else:
            parts.append(t.counter(signal.metric, 4 * UNIT))
    return merge(*parts)


def expected_samples(db: SeriesDB, name: str, provider: str, t: float) -> list[dict]:
    vector = Selector(name, (Matcher("provider", "=", provider),)).evaluate(db, t)
    samples = []
    for labels, value in sorted(vector.items()):
        if value != value:
            raise GenerationError(f"{name} is NaN in the generated traffic; fix rich_traffic")
        samples.append({"labels": format_series(labels), "value": value})
    return samples


def checked_groups(groups: list[Group]) -> list[Group]:
    """The groups whose every record the test checks: those at the global interval (the
    period group has tests of its own, at its own interval)."""
    return [
        g for g in groups if not g.interval and any(isinstance(r, RecordingRule) for r in g.rules)
    ]


def recording_test(
    specs: SpecSet, spec: ProviderSpec, groups: list[Group], cache: SimulationCache | None = None
) -> tuple[int, list]:
    timeline = Timeline(MINUTE)
    timeline.run(EVAL_AT, rich_traffic(specs, spec))
    series = timeline.input_series()
    inputs = promtool_input_series(series)
    recording = [g.for_simulation() for g in checked_groups(groups)]
    key = key_of("recording", repr(recording), inputs, EVAL_AT, spec.provider)
    checks = cache.get(key, _stored_checks) if cache is not None else None
    if checks is None:
        checks = _checks(spec, recording, series)
        if cache is not None:
            cache.put(key, checks)
    return MINUTE, [
        {
            "name": (
                f"{spec.name}: every recording rule after {format_duration(EVAL_AT)} of traffic"
            ),
            "interval": format_duration(MINUTE),
            "input_series": inputs,
            "promql_expr_test": checks,
        }
    ]


def _stored_checks(data: object) -> list[dict]:
    if not isinstance(data, list) or not all(
        isinstance(c, dict) and set(c) == {"expr", "eval_time", "exp_samples"} for c in data
    ):
        raise ValueError("not a list of promql_expr_test checks")
    return data


def _checks(spec: ProviderSpec, recording: list, series: list) -> list[dict]:
    """Every recorded series' samples after EVAL_AT of the traffic, simulated."""
    db = SeriesDB()
    load_into(db, series, MINUTE)
    Simulation(recording, db, MINUTE).run_until(EVAL_AT)
    names = list(dict.fromkeys(r.record for g in recording for r in g.rules))
    checks = []
    for name in names:
        samples = expected_samples(db, name, spec.provider, EVAL_AT)
        if not samples:
            raise GenerationError(
                f"{name} has no value in the generated traffic; extend "
                "rich_traffic so every recording rule is exercised"
            )
        checks.append(
            {
                "expr": format_series((("__name__", name), ("provider", spec.provider))),
                "eval_time": format_duration(EVAL_AT),
                "exp_samples": samples,
            }
        )
    return checks
