"""Rule group simulation and Go-template humanize functions.

The promtool-backed test renders rule groups and a promtool unit test whose expected
samples and alerts are the simulation's predictions; promtool passing means they agree.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from relayops.promql import (
    Absent,
    Aggregate,
    AvgOverTime,
    Binary,
    HistogramQuantile,
    Matcher,
    Number,
    Range,
    Rate,
    Selector,
    SeriesDB,
    TopK,
    Vector,
    format_duration,
    format_series,
    labels_of,
)
from relayops.promql.simulate import (
    AlertRule,
    FiringAlert,
    RecordingRule,
    RuleGroup,
    Simulation,
    expand,
    go_float,
    humanize,
    humanize_duration,
    humanize_percentage,
)
from relayops.rules.series import InputSeries, load_into, promtool_input_series
from tests.promtool_util import needs_promtool, run_promtool_test

# --- humanize and templates ------------------------------------------------------------------

# Expected strings are what Prometheus 2.42's templates print (checked with promtool).
HUMANIZED = [
    # value, $value, humanize, humanizePercentage, humanizeDuration
    (0.0, "0", "0", "0%", "0s"),
    (-0.0, "-0", "-0", "-0%", "-0s"),
    (1.0625, "1.0625", "1.062", "106.2%", "1.062s"),
    (1234.5, "1234.5", "1.234k", "1.234e+05%", "20m 34s"),
    (-129600.5, "-129600.5", "-129.6k", "-1.296e+07%", "-1d 12h 0m 0s"),
    (-0.00012345, "-0.00012345", "-123.4u", "-0.01234%", "-123.4us"),
    (3599.99999, "3599.99999", "3.6k", "3.6e+05%", "59m 59s"),
    (999999.5, "999999.5", "1000k", "1e+08%", "11d 13h 46m 39s"),
    (1234567.0, "1.234567e+06", "1.235M", "1.235e+08%", "14d 6h 56m 7s"),
    (0.05, "0.05", "50m", "5%", "50ms"),
    (math.inf, "+Inf", "+Inf", "+Inf%", "+Inf"),
    (-math.inf, "-Inf", "-Inf", "-Inf%", "-Inf"),
    (math.nan, "NaN", "NaN", "NaN%", "NaN"),
]


@pytest.mark.parametrize(("value", "plain", "human", "percent", "duration"), HUMANIZED)
def test_humanize_functions_print_like_go(
    value: float, plain: str, human: str, percent: str, duration: str
) -> None:
    assert go_float(value) == plain
    assert humanize(value) == human
    assert humanize_percentage(value) == percent
    assert humanize_duration(value) == duration


@pytest.mark.parametrize(
    ("value", "text"),
    [(100000.0, "100000"), (0.0001, "0.0001"), (1e-05, "1e-05"), (1e21, "1e+21"), (0.1, "0.1")],
)
def test_go_float_switches_to_exponent_form_like_fmt_v(value: float, text: str) -> None:
    assert go_float(value) == text


def test_expand_supports_labels_and_value_pipes() -> None:
    labels = {"__name__": "x", "provider": "google"}
    text = "{{ $labels.provider }}/{{$labels.missing}} {{ $value | humanizePercentage }} {{$value}}"
    assert expand(text, labels, 0.125) == "google/ 12.5% 0.125"
    assert expand("{{ $labels.__name__ }}", labels, 1.0) == "x"


@pytest.mark.parametrize(
    "template",
    ['{{ $value | printf "%.2f" }}', "{{ .Labels.x }}", "{{- $value }}", "{{ $value ", "{{ x }}"],
)
def test_expand_rejects_unmodelled_templates(template: str) -> None:
    with pytest.raises(ValueError):
        expand(template, {}, 1.0)


# --- simulation ------------------------------------------------------------------------------


def gauge_db(values: list[float | None], **labels: str) -> SeriesDB:
    db = SeriesDB()
    load_into(db, [InputSeries({"__name__": "g", **labels}, values)], 60)
    return db


def test_recording_rules_write_back_for_later_rules_and_groups() -> None:
    db = gauge_db([1, 2, 3], a="1")
    groups = [
        RuleGroup("first", (RecordingRule("g:double", Binary("*", Selector("g"), Number(2))),)),
        RuleGroup(
            "second",
            (
                RecordingRule("g:quad", Binary("*", Selector("g:double"), Number(2)), {"k": "v"}),
                RecordingRule("g:count", Aggregate("count", Selector("g:quad"))),
            ),
        ),
    ]
    sim = Simulation(groups, db, 60)
    assert sim.query(Selector("g:quad"), 120) == {
        labels_of({"__name__": "g:quad", "a": "1", "k": "v"}): 12.0
    }
    assert sim.query(Selector("g:count"), 120) == {labels_of({"__name__": "g:count"}): 1.0}
    assert db.series()[labels_of({"__name__": "g:double", "a": "1"})] == [
        (0, 2.0),
        (60, 4.0),
        (120, 6.0),
    ]


def test_vanished_recorded_series_go_stale_at_once() -> None:
    db = gauge_db([5, 9, 1, 1])
    sim = Simulation(
        [RuleGroup("g", (RecordingRule("g:high", Binary(">", Selector("g"), Number(4))),))], db, 60
    )
    assert sim.query(Selector("g:high"), 60) == {labels_of({"__name__": "g:high"}): 9.0}
    assert sim.query(Selector("g:high"), 120) == {}


def test_scalar_rule_results_become_one_unlabelled_sample() -> None:
    sim = Simulation([RuleGroup("g", (RecordingRule("two", Number(2)),))], SeriesDB(), 60)
    assert sim.query(Selector("two"), 0) == {labels_of({"__name__": "two"}): 2.0}


def test_alert_goes_pending_then_fires_after_for_then_resolves_at_once() -> None:
    db = gauge_db([0, 5, 5, 5, 5, 0, 5], job="relay")
    rule = AlertRule(
        "High",
        Binary(">", Selector("g"), Number(1)),
        for_seconds=120,
        labels={"severity": "page", "job": "{{ $labels.job }}-x", "drop": ""},
        annotations={"summary": "{{ $labels.__name__ }} at {{ $value }}"},
    )
    sim = Simulation([RuleGroup("alerts", (rule,))], db, 60)
    fired = {t: sim.firing(t) for t in range(0, 420, 60)}
    assert [t for t, alerts in fired.items() if alerts] == [180, 240]
    assert fired[180] == [
        FiringAlert(
            labels={"alertname": "High", "job": "relay-x", "severity": "page"},
            annotations={"summary": "g at 5"},
            value=5.0,
            active_at=60.0,
        )
    ]
    assert sim.firing(250) == fired[240]


def test_alert_without_for_fires_on_first_evaluation() -> None:
    db = gauge_db([None, 3])
    rule = AlertRule("Now", Selector("g"), for_seconds=0, labels={}, annotations={})
    sim = Simulation([RuleGroup("alerts", (rule,))], db, 60)
    assert sim.firing(0) == []
    assert [a.active_at for a in sim.firing(60)] == [60.0]


# --- against promtool ------------------------------------------------------------------------

INTERVAL = 60
STEPS = 30
BY = ("provider", "action")


def counter(start: float, increments: list[float | None]) -> list[float | None]:
    """Cumulative values; None leaves a gap; a negative increment means reset to its size."""
    values: list[float | None] = []
    total = start
    for step in increments:
        if step is None:
            values.append(None)
            continue
        total = -step if step < 0 else total + step
        values.append(total)
    return values


def exec_total(provider: str, action: str, status: str, instance: str) -> dict[str, str]:
    return {
        "__name__": "action_exec_total",
        "provider": provider,
        "action": action,
        "status": status,
        "instance": instance,
    }


def scenario_inputs() -> list[InputSeries]:
    uneven = [60, 55, 70, 40, 65, 58, 62, 75, 50, 61]
    burst = [0] * 5 + [12, 15, 9, 14, 11, 13, 12, 10] + [0] * 17
    series = []
    for instance, scale in (("a", 1), ("b", 2)):
        google_ok: list[float | None] = [uneven[i % 10] * scale for i in range(STEPS)]
        google_ok[15] = -10  # counter reset
        late_ok = [None] * 3 + counter(0, [30 + (i * 7) % 11 for i in range(STEPS - 3)])
        series += [
            InputSeries(
                exec_total("google", "gmail.send", "ok", instance), counter(100, google_ok)
            ),
            InputSeries(
                exec_total("google", "gmail.send", "error", instance),
                counter(0, [b * scale for b in burst]),
            ),
            InputSeries(exec_total("microsoft", "outlook.send", "ok", instance), late_ok),
            InputSeries(
                exec_total("microsoft", "outlook.send", "error", instance),
                [None] * 3 + counter(0, [i % 2 for i in range(STEPS - 3)]),
            ),
        ]
    bounds = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
    cumulative = [0.0] * len(bounds)
    rows: list[list[float | None]] = [[] for _ in bounds]
    for k in range(STEPS):
        slow = 6 if 10 <= k < 16 else 0
        observed = [8, 10, 12, 9, 4 + slow, 2 + slow, 1, (k % 3)]
        for j in range(len(bounds)):
            cumulative[j] += sum(observed[: j + 1])
            rows[j].append(cumulative[j])
    series += [
        InputSeries(
            {"__name__": "send_latency_seconds_bucket", "provider": "google", "le": le}, row
        )
        for le, row in zip(bounds, rows, strict=True)
    ]
    series += [
        InputSeries(
            {"__name__": "queue_depth", "shard": str(i)},
            [float((i * 5 + k * 3) % 13) for k in range(STEPS)],
        )
        for i in range(3)
    ]
    probes = [v for v, *_ in HUMANIZED] + [100000.0, 0.0001, 1e-05, 1e21]
    series += [
        InputSeries({"__name__": "humanize_probe", "case": str(i)}, [value])
        for i, value in enumerate(probes)
    ]
    return series


def scenario_groups() -> list[RuleGroup]:
    execs = Selector("action_exec_total")
    errors = Selector("action_exec_total", (Matcher("status", "=", "error"),))
    oks = Selector("action_exec_total", (Matcher("status", "=", "ok"),))
    rate = Selector("relay:action_exec:rate5m")
    rate_errors = Selector("relay:action_exec:rate5m", (Matcher("status", "=", "error"),))
    recording = RuleGroup(
        "relay-recording",
        (
            RecordingRule(
                "relay:action_exec:rate5m",
                Aggregate("sum", Rate(Range(execs, 300)), (*BY, "status")),
            ),
            RecordingRule(
                "relay:action_errors:ratio_rate5m",
                Binary("/", Aggregate("sum", rate_errors, BY), Aggregate("sum", rate, BY), on=BY),
            ),
            RecordingRule(
                "relay:send_latency:p90",
                HistogramQuantile(
                    0.9,
                    Aggregate(
                        "sum",
                        Rate(Range(Selector("send_latency_seconds_bucket"), 300)),
                        ("provider", "le"),
                    ),
                ),
            ),
            RecordingRule(
                "relay:queue:avg5m",
                AvgOverTime(Range(Selector("queue_depth"), 300)),
                {"team": "relay"},
            ),
            RecordingRule("relay:queue:top1", TopK(1, Selector("queue_depth"))),
            RecordingRule("relay:queue:high", Binary(">", Selector("queue_depth"), Number(9))),
            RecordingRule("relay:actions:count", Aggregate("count", execs, ("provider",))),
        ),
    )
    alerts = RuleGroup(
        "relay-alerts",
        (
            AlertRule(
                "HighErrorRatio",
                Binary(
                    "and",
                    Binary(">", Selector("relay:action_errors:ratio_rate5m"), Number(0.1)),
                    Binary(">", Aggregate("sum", rate, BY), Number(0.5)),
                    on=BY,
                ),
                for_seconds=120,
                labels={"severity": "page", "owner": "{{ $labels.provider }}-oncall"},
                annotations={
                    "summary": "{{ $labels.provider }}/{{ $labels.action }} failing "
                    "{{ $value | humanizePercentage }} of sends",
                    "value": "{{ $value }}",
                    "human": "{{ $value | humanize }}",
                },
            ),
            AlertRule(
                "SlowSends",
                Binary(">", Selector("relay:send_latency:p90"), Number(1.2)),
                for_seconds=0,
                labels={"severity": "ticket"},
                annotations={"p90": "{{ $value | humanizeDuration }}"},
            ),
            AlertRule(
                "NoYahooTraffic",
                Absent(Selector("action_exec_total", (Matcher("provider", "=", "yahoo"),))),
                for_seconds=300,
            ),
            AlertRule(
                "ErrorsOutpaceSuccess",
                Binary(
                    ">",
                    Aggregate("sum", Rate(Range(errors, 300)), ("provider",)),
                    Binary(
                        "*", Aggregate("sum", Rate(Range(oks, 300)), ("provider",)), Number(0.15)
                    ),
                    on=("provider",),
                ),
                for_seconds=60,
                annotations={"rate": "{{ $value | humanize }}/s"},
            ),
            AlertRule(
                "DeepQueue",
                Binary(">", Selector("relay:queue:top1"), Number(7)),
                for_seconds=60,
                annotations={"shard": "{{ $labels.shard }}", "depth": "{{ $value }}"},
            ),
            AlertRule(
                "HumanizeProbe",
                Selector("humanize_probe"),
                annotations={
                    "plain": "{{ $value }}",
                    "human": "{{ $value | humanize }}",
                    "percent": "{{ $value | humanizePercentage }}",
                    "duration": "{{ $value | humanizeDuration }}",
                },
            ),
        ),
    )
    return [recording, alerts]


def rule_document(groups: list[RuleGroup]) -> dict[str, object]:
    def rule(r: RecordingRule | AlertRule) -> dict[str, object]:
        if isinstance(r, RecordingRule):
            return {
                "record": r.record,
                "expr": r.expr.render(),
                **({"labels": r.labels} if r.labels else {}),
            }
        out: dict[str, object] = {"alert": r.alert, "expr": r.expr.render()}
        if r.for_seconds:
            out["for"] = format_duration(r.for_seconds)
        return {**out, "labels": r.labels, "annotations": r.annotations}

    return {"groups": [{"name": g.name, "rules": [rule(r) for r in g.rules]} for g in groups]}


def exp_samples(result: Vector | float) -> list[dict[str, object]]:
    vector = result if isinstance(result, dict) else {(): result}
    assert not any(math.isnan(v) for v in vector.values()), "promtool 2.42 cannot compare NaN"
    return [{"labels": format_series(k), "value": v} for k, v in sorted(vector.items())]


def simulate(seed: int | None) -> tuple[Simulation, list[RuleGroup]]:
    db = SeriesDB(shuffle_seed=seed)
    load_into(db, scenario_inputs(), INTERVAL)
    groups = scenario_groups()
    return Simulation(groups, db, INTERVAL), groups


def predictions(seed: int | None) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    sim, groups = simulate(seed)
    names = [r.alert for g in groups for r in g.rules if isinstance(r, AlertRule)]
    records = [r.record for g in groups for r in g.rules if isinstance(r, RecordingRule)]
    alert_tests, expr_tests = [], []
    for step in range(STEPS):
        t = step * INTERVAL
        firing = sim.firing(t)
        for name in names:
            alert_tests.append(
                {
                    "eval_time": f"{t}s",
                    "alertname": name,
                    "exp_alerts": [
                        {"exp_labels": a.labels, "exp_annotations": a.annotations}
                        for a in firing
                        if a.labels["alertname"] == name
                    ],
                }
            )
        for record in records:
            expr_tests.append(
                {
                    "expr": record,
                    "eval_time": f"{t}s",
                    "exp_samples": exp_samples(sim.query(Selector(record), t)),
                }
            )
    return alert_tests, expr_tests


def test_scenario_alert_timeline_has_pending_firing_and_resolution() -> None:
    sim, _ = simulate(None)
    condition = scenario_groups()[1].rules[0].expr
    true_at = [s for s in range(STEPS) if sim.query(condition, s * INTERVAL)]
    firing_at = [
        s
        for s in range(STEPS)
        if any(a.labels["alertname"] == "HighErrorRatio" for a in sim.firing(s * INTERVAL))
    ]
    assert true_at == list(range(true_at[0], true_at[-1] + 1)), "one contiguous episode"
    assert firing_at == list(range(true_at[0] + 2, true_at[-1] + 1)), "for: 2m, then resolved"
    assert true_at[-1] < STEPS - 1, "resolved before the end"


@needs_promtool
def test_simulation_matches_promtool(tmp_path: Path) -> None:
    alert_tests, expr_tests = predictions(None)
    for seed in range(4):
        assert predictions(seed) == (alert_tests, expr_tests), "prediction depends on order"
    groups = scenario_groups()
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rule_document(groups), sort_keys=False))
    document = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": f"{INTERVAL}s",
        "group_eval_order": [g.name for g in groups],
        "tests": [
            {
                "interval": f"{INTERVAL}s",
                "input_series": promtool_input_series(scenario_inputs()),
                "alert_rule_test": alert_tests,
                "promql_expr_test": expr_tests,
            }
        ],
    }
    run_promtool_test(tmp_path, document)
