"""PromQL expression nodes: rendering, Prometheus 2.42 evaluation semantics, series notation.

The promtool-backed tests write promtool unit tests whose expected values are this module's
predictions; promtool passing means the predictions equal what Prometheus 2.42 computes.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from relayops.promql import (
    STALE_NAN,
    Absent,
    Aggregate,
    AvgOverTime,
    Binary,
    Expr,
    HistogramQuantile,
    Increase,
    Matcher,
    MaxOverTime,
    Number,
    Range,
    Rate,
    Selector,
    SeriesDB,
    Time,
    TopK,
    Vector,
    VectorOf,
    format_duration,
    format_number,
    format_series,
    labels_of,
)
from relayops.rules.series import (
    InputSeries,
    load_into,
    promtool_input_series,
    to_promtool_values,
)
from tests.promtool_util import needs_promtool, run_promtool_test


def L(**labels: str) -> tuple[tuple[str, str], ...]:
    return labels_of(labels)


def sel(name: str, **equal: str) -> Selector:
    return Selector(name, tuple(Matcher(k, "=", v) for k, v in equal.items()))


def db_with(samples: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]) -> SeriesDB:
    db = SeriesDB()
    for labels, points in samples.items():
        for t, value in points:
            db.add(labels, t, value)
    return db


# --- rendering -------------------------------------------------------------------------------


def test_renders_the_canonical_burn_rate_expression() -> None:
    selector = sel("action_exec_total", provider="google", action="gmail.send", status="error")
    expr = Aggregate("sum", Rate(Range(selector, 300)), ("provider", "action"))
    assert expr.render() == (
        "sum by (provider, action) "
        '(rate(action_exec_total{provider="google",action="gmail.send",status="error"}[5m]))'
    )


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (Binary("-", Selector("a"), Binary("-", Selector("b"), Selector("c"))), "a - (b - c)"),
        (Binary("-", Binary("-", Selector("a"), Selector("b")), Selector("c")), "a - b - c"),
        (Binary("*", Binary("+", Selector("a"), Selector("b")), Selector("c")), "(a + b) * c"),
        (Binary("+", Selector("a"), Binary("*", Selector("b"), Selector("c"))), "a + b * c"),
        (Binary("/", Selector("a"), Binary("/", Selector("b"), Selector("c"))), "a / (b / c)"),
        (
            Binary("and", Binary("or", Selector("a"), Selector("b")), Selector("c")),
            "(a or b) and c",
        ),
        (Binary("or", Selector("a"), Binary("and", Selector("b"), Selector("c"))), "a or b and c"),
        (
            Binary("unless", Selector("a"), Binary("unless", Selector("b"), Selector("c"))),
            "a unless (b unless c)",
        ),
        (Binary(">", Binary("/", Selector("a"), Selector("b")), Number(0.001)), "a / b > 0.001"),
        (Binary("*", Binary(">", Selector("a"), Number(1)), Number(2)), "(a > 1) * 2"),
        (Binary(">", Selector("x"), Number(1), bool_=True), "x > bool 1"),
        (
            Binary("/", Selector("a"), Selector("b"), on=("provider", "action")),
            "a / on (provider, action) b",
        ),
        (Binary("==", Selector("a"), Selector("b"), on=("x",), bool_=True), "a == bool on (x) b"),
        (Binary("and", Selector("a"), Selector("b"), on=()), "a and on () b"),
        (Binary("-", Time(), Number(-1.5)), "time() - -1.5"),
    ],
)
def test_binary_operands_are_parenthesised_only_when_needed(expr: Expr, text: str) -> None:
    assert expr.render() == text


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (TopK(5, Selector("x"), ("provider",)), "topk by (provider) (5, x)"),
        (TopK(3, Selector("x")), "topk(3, x)"),
        (HistogramQuantile(0.95, Selector("x_bucket")), "histogram_quantile(0.95, x_bucket)"),
        (Absent(sel("up", job="relay")), 'absent(up{job="relay"})'),
        (Aggregate("count", Selector("x")), "count(x)"),
        (AvgOverTime(Range(Selector("x"), 3600)), "avg_over_time(x[1h])"),
        (MaxOverTime(Range(Selector("x"), 300)), "max_over_time(x[5m])"),
        (Increase(Range(Selector("x"), 259200)), "increase(x[3d])"),
        (VectorOf(1), "vector(1)"),
        (Time(), "time()"),
        (
            Selector("x", (Matcher("a", "=~", r"gmail\.send|o"), Matcher("b", "!~", 'q"'))),
            r'x{a=~"gmail\\.send|o",b!~"q\""}',
        ),
        (Selector("", (Matcher("__name__", "=~", "a|b"),)), '{__name__=~"a|b"}'),
    ],
)
def test_renders_functions_and_selectors(expr: Expr, text: str) -> None:
    assert expr.render() == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300, "5m"), (3600, "1h"), (259200, "3d"), (90, "90s"), (5400, "90m"), (604800, "7d")],
)
def test_format_duration_uses_the_largest_exact_unit(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.001, "0.001"),
        (14.4, "14.4"),
        (1.0, "1"),
        (1e-05, "1e-05"),
        (100.0, "100"),
        (0.95, "0.95"),
        (1e16, "1e+16"),
        (math.inf, "Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_format_number_is_shortest_round_trip(value: float, text: str) -> None:
    assert format_number(value) == text
    if math.isfinite(value):
        assert float(text) == value


@pytest.mark.parametrize(
    "build",
    [
        lambda: Binary("+", Selector("a"), Selector("b"), bool_=True),
        lambda: Binary(">", Number(1), Number(2)),
        lambda: Binary("and", Selector("a"), Number(1)),
        lambda: Binary("+", Selector("a"), Number(1), on=("x",)),
        lambda: Binary("%", Selector("a"), Selector("b")),
        lambda: Aggregate("stddev", Selector("a")),
        lambda: Aggregate("sum", Number(1)),
        lambda: Matcher("a-b", "=", "x"),
        lambda: Matcher("a", "~", "x"),
        lambda: Selector("", (Matcher("a", "=", ""),)),
    ],
)
def test_rejects_expressions_promql_would_not_parse(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


# --- selectors -------------------------------------------------------------------------------


def test_instant_selector_lookback_includes_exactly_five_minutes_back() -> None:
    db = db_with({L(__name__="x", a="1"): [(0, 1.0), (60, 2.0)]})
    x = Selector("x")
    assert x.evaluate(db, 30) == {L(__name__="x", a="1"): 1.0}
    assert x.evaluate(db, 360) == {L(__name__="x", a="1"): 2.0}
    assert x.evaluate(db, 360.001) == {}
    assert x.evaluate(db, -0.001) == {}


def test_staleness_marker_hides_a_series_until_a_new_sample() -> None:
    db = db_with({L(__name__="x"): [(0, 1.0), (60, STALE_NAN), (120, 3.0)]})
    assert Selector("x").evaluate(db, 90) == {}
    assert Selector("x").evaluate(db, 120) == {L(__name__="x"): 3.0}
    assert AvgOverTime(Range(Selector("x"), 300)).evaluate(db, 120) == {(): 2.0}


def test_matchers_treat_a_missing_label_as_empty() -> None:
    db = db_with({L(__name__="x", a="1"): [(0, 1.0)], L(__name__="x"): [(0, 2.0)]})
    assert Selector("x", (Matcher("a", "=", ""),)).evaluate(db, 0) == {L(__name__="x"): 2.0}
    assert Selector("x", (Matcher("a", "=~", "1|"),)).evaluate(db, 0) == {
        L(__name__="x"): 2.0,
        L(__name__="x", a="1"): 1.0,
    }
    assert Selector("x", (Matcher("a", "!~", "1"),)).evaluate(db, 0) == {L(__name__="x"): 2.0}


def test_range_window_includes_its_start() -> None:
    db = db_with({L(__name__="x"): [(0, 1.0), (60, 3.0), (120, 5.0)]})
    assert AvgOverTime(Range(Selector("x"), 60)).evaluate(db, 120) == {(): 4.0}


# --- rate and friends ------------------------------------------------------------------------


def test_rate_clamps_extrapolation_at_the_counter_zero_point() -> None:
    db = db_with({L(__name__="c"): [(30, 5.0), (90, 11.0), (150, 17.0)]})
    # 120s sampled; 150s to the window start, but the counter hits zero 50s before 30s;
    # 30s to the end, under 1.1 x 60s, so extrapolated fully: 200s of 0.1/s.
    assert Increase(Range(Selector("c"), 300)).evaluate(db, 180) == {(): 12 * (200 / 120)}
    assert Rate(Range(Selector("c"), 300)).evaluate(db, 180) == {(): 12 * (200 / 120 / 300)}


def test_rate_extrapolates_half_an_interval_when_samples_stop_early() -> None:
    db = db_with({L(__name__="c"): [(480, 100.0), (540, 110.0), (600, 120.0)]})
    assert Increase(Range(Selector("c"), 600)).evaluate(db, 600) == {(): 25.0}


def test_rate_adds_counter_resets() -> None:
    db = db_with({L(__name__="c", a="1"): [(0, 5.0), (60, 8.0), (120, 2.0), (180, 4.0)]})
    assert Increase(Range(Selector("c"), 180)).evaluate(db, 180) == {L(a="1"): 7.0}


def test_rate_needs_two_samples() -> None:
    db = db_with({L(__name__="c"): [(0, 5.0)]})
    assert Rate(Range(Selector("c"), 300)).evaluate(db, 60) == {}


def test_rate_output_dropping_names_must_not_collide() -> None:
    db = db_with({L(__name__="a"): [(0, 1.0), (60, 2.0)], L(__name__="b"): [(0, 1.0), (60, 2.0)]})
    both = Selector("", (Matcher("__name__", "=~", "a|b"),))
    with pytest.raises(ValueError, match="same labelset"):
        Rate(Range(both, 300)).evaluate(db, 60)


def test_avg_over_time_of_a_constant_is_exact() -> None:
    db = db_with({L(__name__="g"): [(t, 0.1) for t in range(0, 600, 15)]})
    assert AvgOverTime(Range(Selector("g"), 600)).evaluate(db, 600) == {(): 0.1}


# --- aggregation -----------------------------------------------------------------------------


@pytest.fixture
def three() -> SeriesDB:
    return db_with(
        {
            L(__name__="x", a="1", b="1"): [(0, 1.0)],
            L(__name__="x", a="1", b="2"): [(0, 2.0)],
            L(__name__="x", a="2", b="1"): [(0, 4.0)],
        }
    )


@pytest.mark.parametrize(
    ("op", "one", "two"),
    [
        ("sum", 3.0, 4.0),
        ("count", 2.0, 1.0),
        ("max", 2.0, 4.0),
        ("min", 1.0, 4.0),
        ("avg", 1.5, 4.0),
    ],
)
def test_aggregation_groups_by_labels(three: SeriesDB, op: str, one: float, two: float) -> None:
    result = Aggregate(op, Selector("x"), ("a",)).evaluate(three, 0)
    assert result == {L(a="1"): one, L(a="2"): two}


def test_aggregation_without_by_has_no_labels(three: SeriesDB) -> None:
    assert Aggregate("sum", Selector("x")).evaluate(three, 0) == {(): 7.0}


def test_shuffled_series_order_exposes_order_dependent_sums() -> None:
    """promtool's series order is random per run; so is a sum whose partial sums round."""
    values = {"1": 1e16, "2": 1.0, "3": -1e16}
    sums = set()
    for seed in range(20):
        db = SeriesDB(shuffle_seed=seed)
        for i, value in values.items():
            db.add({"__name__": "x", "i": i}, 0, value)
        sums.add(Aggregate("sum", Selector("x")).evaluate(db, 0)[()])  # type: ignore[index]
    assert sums == {0.0, 1.0}


def test_max_and_min_skip_nan_unless_all_nan() -> None:
    db = db_with({L(__name__="x", i="1"): [(0, math.nan)], L(__name__="x", i="2"): [(0, 1.0)]})
    assert Aggregate("max", Selector("x")).evaluate(db, 0) == {(): 1.0}
    assert Aggregate("min", Selector("x")).evaluate(db, 0) == {(): 1.0}
    only_nan = Aggregate("max", sel("x", i="1")).evaluate(db, 0)
    assert isinstance(only_nan, dict)
    assert math.isnan(only_nan[()])


def test_avg_keeps_an_infinite_mean() -> None:
    db = db_with({L(__name__="x", i="1"): [(0, math.inf)], L(__name__="x", i="2"): [(0, 1.0)]})
    assert Aggregate("avg", Selector("x")).evaluate(db, 0) == {(): math.inf}


def test_topk_keeps_full_labels_per_group(three: SeriesDB) -> None:
    assert TopK(1, Selector("x"), ("b",)).evaluate(three, 0) == {
        L(__name__="x", a="2", b="1"): 4.0,
        L(__name__="x", a="1", b="2"): 2.0,
    }
    assert TopK(0, Selector("x")).evaluate(three, 0) == {}


# --- histogram_quantile ----------------------------------------------------------------------


def buckets(counts: dict[str, float], **labels: str) -> SeriesDB:
    return db_with({L(__name__="h_bucket", le=le, **labels): [(0, c)] for le, c in counts.items()})


@pytest.mark.parametrize(("q", "expected"), [(0.5, 0.1 + 0.4 * (3 / 4)), (0.1, 0.05), (0.99, 1.0)])
def test_histogram_quantile_interpolates_within_the_bucket(q: float, expected: float) -> None:
    db = buckets({"0.1": 2, "0.5": 6, "1": 8, "+Inf": 10}, job="j")
    assert HistogramQuantile(q, Selector("h_bucket")).evaluate(db, 0) == {L(job="j"): expected}


@pytest.mark.parametrize("counts", [{"0.1": 2, "1": 8}, {"0.1": 0, "+Inf": 0}, {"+Inf": 5}])
def test_histogram_quantile_is_nan_without_usable_buckets(counts: dict[str, float]) -> None:
    result = HistogramQuantile(0.5, Selector("h_bucket")).evaluate(buckets(counts), 0)
    assert isinstance(result, dict)
    assert math.isnan(result[()])


def test_histogram_quantile_repairs_non_monotonic_buckets_and_merges_equal_bounds() -> None:
    db = buckets({"1": 4, "1.0": 2, "2": 5, "+Inf": 10})
    # le 1 and 1.0 merge to 6; the 5 below it is raised to 6; rank 5 falls in (0, 1].
    assert HistogramQuantile(0.5, Selector("h_bucket")).evaluate(db, 0) == {(): 1 * (5 / 6)}


# --- binary operators ------------------------------------------------------------------------


@pytest.fixture
def pair() -> SeriesDB:
    return db_with(
        {
            L(__name__="a", job="j", i="1", x="p"): [(0, 3.0)],
            L(__name__="a", job="j", i="2", x="q"): [(0, 7.0)],
            L(__name__="b", job="j", i="1", x="p"): [(0, 2.0)],
            L(__name__="b", job="j", i="2", x="z"): [(0, 9.0)],
        }
    )


def test_arithmetic_matches_on_all_labels_but_the_name(pair: SeriesDB) -> None:
    assert Binary("-", Selector("a"), Selector("b")).evaluate(pair, 0) == {
        L(job="j", i="1", x="p"): 1.0
    }


def test_on_keeps_only_the_on_labels_for_arithmetic_and_comparison(pair: SeriesDB) -> None:
    a, b = Selector("a"), Selector("b")
    assert Binary("/", a, b, on=("i",)).evaluate(pair, 0) == {L(i="1"): 1.5, L(i="2"): 7 / 9}
    assert Binary(">", a, b, on=("i",)).evaluate(pair, 0) == {L(i="1"): 3.0}
    assert Binary(">", a, b, on=("i",), bool_=True).evaluate(pair, 0) == {
        L(i="1"): 1.0,
        L(i="2"): 0.0,
    }


def test_comparison_filters_and_keeps_the_left_value_and_name(pair: SeriesDB) -> None:
    assert Binary(">", Selector("a"), Number(5)).evaluate(pair, 0) == {
        L(__name__="a", job="j", i="2", x="q"): 7.0
    }
    assert Binary("<", Number(5), Selector("a")).evaluate(pair, 0) == {
        L(__name__="a", job="j", i="2", x="q"): 7.0
    }
    assert Binary(">", Selector("a"), Number(5), bool_=True).evaluate(pair, 0) == {
        L(job="j", i="1", x="p"): 0.0,
        L(job="j", i="2", x="q"): 1.0,
    }


def test_division_by_zero_follows_ieee(pair: SeriesDB) -> None:
    result = Binary("/", Selector("a"), Number(0)).evaluate(pair, 0)
    assert result == {L(job="j", i="1", x="p"): math.inf, L(job="j", i="2", x="q"): math.inf}
    assert Binary("/", Number(-1), Number(0)).evaluate(pair, 0) == -math.inf
    assert math.isnan(Binary("/", Number(0), Number(0)).evaluate(pair, 0))  # type: ignore[arg-type]


def test_scalar_arithmetic_and_bool_comparison(pair: SeriesDB) -> None:
    assert Binary("*", Time(), Number(2)).evaluate(pair, 30) == 60.0
    assert Binary("<=", Number(1), Number(2), bool_=True).evaluate(pair, 0) == 1.0


def test_set_operators_keep_left_labels_and_values(pair: SeriesDB) -> None:
    a, b = Selector("a"), Selector("b")
    left_1 = L(__name__="a", job="j", i="1", x="p")
    left_2 = L(__name__="a", job="j", i="2", x="q")
    assert Binary("and", a, b).evaluate(pair, 0) == {left_1: 3.0}
    assert Binary("and", a, b, on=("i",)).evaluate(pair, 0) == {left_1: 3.0, left_2: 7.0}
    assert Binary("unless", a, b).evaluate(pair, 0) == {left_2: 7.0}
    assert Binary("or", a, b).evaluate(pair, 0) == {
        left_1: 3.0,
        left_2: 7.0,
        L(__name__="b", job="j", i="2", x="z"): 9.0,
    }


def test_one_to_one_matching_rejects_duplicates(pair: SeriesDB) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Binary("+", Selector("a"), Selector("b"), on=("job",)).evaluate(pair, 0)


# --- absent, time, vector --------------------------------------------------------------------


def test_absent_takes_labels_from_unambiguous_equality_matchers() -> None:
    db = db_with({L(__name__="up", job="relay"): [(0, 1.0)]})
    selector = Selector(
        "zz",
        (
            Matcher("a", "=", "1"),
            Matcher("b", "=~", "x"),
            Matcher("c", "=", ""),
            Matcher("d", "=", "2"),
            Matcher("d", "=", "3"),
            Matcher("e", "!=", "4"),
            Matcher("f", "=", "5"),
        ),
    )
    assert Absent(selector).evaluate(db, 0) == {L(a="1", f="5"): 1.0}
    assert Absent(sel("up", job="relay")).evaluate(db, 0) == {}


def test_time_and_vector() -> None:
    db = SeriesDB()
    assert Time().evaluate(db, 90) == 90.0
    assert Time().evaluate(db, 0.5) == 0.5
    assert VectorOf(1).evaluate(db, 0) == {(): 1.0}


def test_seriesdb_lists_samples_in_time_order_and_rejects_conflicts() -> None:
    db = SeriesDB()
    db.add({"__name__": "x"}, 60, 2.0)
    db.add((("__name__", "x"),), 0, 1.0)
    db.add({"__name__": "x"}, 60, 2.0)
    assert db.series() == {L(__name__="x"): [(0, 1.0), (60, 2.0)]}
    with pytest.raises(ValueError, match="conflicting"):
        db.add({"__name__": "x"}, 60, 3.0)


# --- series notation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ([1.0, 2.0, 3.0, 4.0], "1+1x3"),
        ([5.0, 4.5, 4.0], "5-0.5x2"),
        ([2.0, 2.0, 2.0, None, None, 7.0], "2x2 _x2 7"),
        ([0.0, 0.0, 0.0], "0x2"),
        ([1.0, 2.0], "1 2"),
        ([None, 1.0, None], "_ 1 _"),
        ([math.inf, math.inf, math.inf], "Inf Inf Inf"),
        ([1.0, STALE_NAN, 2.0], "1 stale 2"),
        ([1.0, 1.1, 1.2000000000000002, 1.3], "1+0.1x2 1.3"),
        ([1.0 + 0.1 * i for i in range(4)], "1 1.1 1.2 1.3"),
    ],
)
def test_series_notation_compresses_only_exact_runs(values: list[float | None], text: str) -> None:
    assert to_promtool_values(values) == text


def test_series_notation_follows_promtools_accumulating_addition() -> None:
    accumulated = [1.0]
    for _ in range(10):
        accumulated.append(accumulated[-1] + 0.1)
    assert to_promtool_values(accumulated) == "1+0.1x10"


def test_input_series_load_at_interval_steps() -> None:
    db = SeriesDB()
    load_into(db, [InputSeries({"__name__": "x", "b": "2", "a": "1"}, [1.0, None, 3.0])], 15)
    assert db.series() == {L(__name__="x", a="1", b="2"): [(0, 1.0), (30, 3.0)]}
    assert promtool_input_series([InputSeries({"__name__": "x", "b": "2", "a": '"'}, [1.0])]) == [
        {"series": 'x{a="\\"", b="2"}', "values": "1"}
    ]


# --- against promtool ------------------------------------------------------------------------


def exp_samples(result: Vector | float) -> list[dict[str, object]]:
    vector = result if isinstance(result, dict) else {(): result}
    if any(math.isnan(value) for value in vector.values()):
        raise AssertionError("promtool 2.42 cannot compare NaN samples; keep them out")
    return [{"labels": format_series(k), "value": v} for k, v in sorted(vector.items())]


def predict(series: list[InputSeries], interval: int, expr: Expr, t: int) -> Vector | float:
    """The prediction, after checking it does not hinge on promtool's random series order."""
    results = []
    for seed in (None, *range(12)):
        db = SeriesDB(shuffle_seed=seed)
        load_into(db, series, interval)
        results.append(expr.evaluate(db, t))
    assert all(r == results[0] for r in results), f"order-dependent: {expr.render()} at {t}"
    return results[0]


def expr_test_file(
    series: list[InputSeries], interval: int, cases: list[tuple[Expr, int]]
) -> dict[str, object]:
    """A promtool test of `cases`, with predictions as the expected samples.

    evaluation_interval is 1s because promtool only loads input samples up to the last
    evaluation step at or before the latest eval_time.
    """
    tests = [
        {
            "expr": expr.render(),
            "eval_time": f"{t}s",
            "exp_samples": exp_samples(predict(series, interval, expr, t)),
        }
        for expr, t in cases
    ]
    return {
        "evaluation_interval": "1s",
        "tests": [
            {
                "interval": f"{interval}s",
                "input_series": promtool_input_series(series),
                "promql_expr_test": tests,
            }
        ],
    }


def semantic_inputs() -> list[InputSeries]:
    """Counters with gaps, uneven steps and a reset; gauges; an 8-bucket histogram."""
    counters = [
        InputSeries(
            {"__name__": "req_total", "provider": "google", "status": "ok"},
            [None, None, 3, 7, 12, 12, 20, 2, 9, 17, 30, 31, None, 40, 41, 43],
        ),
        InputSeries(
            {"__name__": "req_total", "provider": "google", "status": "error"},
            [0, 0, 1, 1, 1, 2, 4, 4, 4, 5, 5, 5, 6, 6, 8, 8],
        ),
        InputSeries(
            {"__name__": "req_total", "provider": "microsoft", "status": "ok"},
            [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80],
        ),
        InputSeries(
            {"__name__": "req_total", "provider": "microsoft", "status": "error"},
            [None, None, None, None, None, None, None, None, 0, 2, 3, 3, 9, 9, 9, 10],
        ),
    ]
    gauges = [
        InputSeries(
            {"__name__": "queue_depth", "shard": str(i)},
            [float((i * 7 + k * 3) % 11) + 0.25 * i for k in range(16)],
        )
        for i in range(4)
    ]
    bounds = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
    histogram = []
    for provider, shift in (("google", 0), ("microsoft", 3)):
        totals = [0.0] * len(bounds)
        rows: list[list[float | None]] = [[] for _ in bounds]
        for k in range(16):
            observed = [float((k * 7 + j * 3 + shift) % 5 * (8 - j)) for j in range(len(bounds))]
            for j in range(len(bounds)):
                totals[j] += sum(observed[: j + 1])
                rows[j].append(totals[j])
        histogram += [
            InputSeries({"__name__": "lat_seconds_bucket", "provider": provider, "le": le}, row)
            for le, row in zip(bounds, rows, strict=True)
        ]
    flaky = InputSeries({"__name__": "flaky"}, [1, 2, None, None, None, None, None, None, 5, 6])
    return [*counters, *gauges, *histogram, flaky]


def semantic_cases() -> list[tuple[Expr, int]]:
    req = Selector("req_total")
    errors = Selector("req_total", (Matcher("status", "=", "error"),))
    by = ("provider",)
    rate5 = Rate(Range(req, 300))
    err_ratio = Binary(
        "/",
        Aggregate("sum", Rate(Range(errors, 300)), by),
        Aggregate("sum", rate5, by),
        on=by,
    )
    exprs: list[Expr] = [
        req,
        rate5,
        Rate(Range(req, 90)),
        Increase(Range(req, 240)),
        Increase(Range(req, 600)),
        Aggregate("sum", Increase(Range(req, 300)), by),
        Aggregate("sum", rate5, by),
        err_ratio,
        Binary(">", err_ratio, Number(0.05)),
        Binary(">", err_ratio, Number(0.05), bool_=True),
        Binary(
            ">", Aggregate("sum", rate5, by), Aggregate("sum", Rate(Range(errors, 300)), by), on=by
        ),
        Binary(
            "and",
            Aggregate("sum", rate5, by),
            Binary(">", Aggregate("sum", Increase(Range(req, 300)), by), Number(20)),
            on=by,
        ),
        Binary(
            ">",
            Rate(Range(errors, 300)),
            Binary("*", Aggregate("sum", rate5, by), Number(0.01)),
            on=by,
        ),
        Binary(
            "/",
            Increase(Range(errors, 300)),
            Aggregate("sum", Increase(Range(req, 300)), by),
            on=by,
        ),
        Aggregate("count", req, by),
        Aggregate("max", Selector("queue_depth")),
        Aggregate("min", Selector("queue_depth")),
        Aggregate("avg", Selector("queue_depth", (Matcher("shard", "=~", "0|1"),))),
        AvgOverTime(Range(Selector("queue_depth"), 300)),
        AvgOverTime(Range(Selector("queue_depth"), 420)),
        MaxOverTime(Range(Selector("queue_depth"), 300)),
        TopK(2, Selector("queue_depth")),
        TopK(1, rate5, by),
        HistogramQuantile(
            0.9,
            Aggregate("sum", Rate(Range(Selector("lat_seconds_bucket"), 300)), ("provider", "le")),
        ),
        HistogramQuantile(
            0.5, Aggregate("sum", Rate(Range(Selector("lat_seconds_bucket"), 300)), ("le",))
        ),
        HistogramQuantile(0.75, Selector("lat_seconds_bucket")),
        Absent(Selector("req_total", (Matcher("provider", "=", "yahoo"),))),
        Absent(Selector("req_total", (Matcher("provider", "=", "google"),))),
        Binary("or", Aggregate("sum", rate5, by), VectorOf(0)),
        Binary("unless", Selector("queue_depth"), Binary(">", Selector("queue_depth"), Number(5))),
        Binary("-", Time(), Aggregate("max", Selector("queue_depth"))),
        Binary("/", Aggregate("sum", Increase(Range(req, 300)), by), Number(0)),
        Binary("*", Number(2), Number(3)),
    ]
    flaky = Selector("flaky")
    boundaries: list[tuple[Expr, int]] = [
        (flaky, 360),
        (flaky, 361),
        (AvgOverTime(Range(flaky, 300)), 360),
        (AvgOverTime(Range(flaky, 420)), 480),
        (MaxOverTime(Range(flaky, 300)), 360),
        (Increase(Range(flaky, 420)), 480),
        (Increase(Range(flaky, 420)), 481),
    ]
    return [(expr, t) for expr in exprs for t in (0, 180, 420, 600, 900)] + boundaries


@needs_promtool
def test_predictions_match_promtool_on_every_semantic_case(tmp_path: Path) -> None:
    run_promtool_test(tmp_path, expr_test_file(semantic_inputs(), 60, semantic_cases()))


def random_counters(rnd: random.Random, steps: int) -> list[InputSeries]:
    series = []
    for i in range(4):
        value, values = rnd.choice([0.0, rnd.uniform(0, 100)]), []
        for _ in range(steps):
            if rnd.random() < 0.15:
                values.append(None)
                continue
            value = rnd.uniform(0, 5) if rnd.random() < 0.05 else value + rnd.uniform(0, 7)
            values.append(value)
        series.append(InputSeries({"__name__": "c", "i": str(i)}, values))
    return series


@needs_promtool
def test_range_functions_are_bit_exact_on_random_inputs(tmp_path: Path) -> None:
    rnd = random.Random(20240242)
    interval, steps = 15, 80
    cases: list[tuple[Expr, int]] = []
    for _ in range(150):
        selector = sel("c", i=str(rnd.randrange(4)))
        window = Range(selector, rnd.choice([30, 45, 60, 90, 120, 300, 600]))
        node = rnd.choice([Rate, Increase, AvgOverTime, MaxOverTime])(window)
        cases.append((node, rnd.randrange(steps * interval)))
    run_promtool_test(tmp_path, expr_test_file(random_counters(rnd, steps), interval, cases))


@needs_promtool
def test_series_notation_expands_in_promtool_to_the_same_floats(tmp_path: Path) -> None:
    accumulated = [0.0]
    for _ in range(12):
        accumulated.append(accumulated[-1] + 0.1)
    rows = [
        accumulated,
        [1e-05 * i for i in range(13)],
        [3.0] * 5 + [None] * 3 + [-2.0, -2.5, -3.0, -3.5, 0.0],
        [0.0, 0.0, 0.0, 5.0, 5.0, 5.0, 5.0, 1.0, 1.5, 2.0, 2.5, None, 1e300],
    ]
    series = [InputSeries({"__name__": "s", "row": str(i)}, row) for i, row in enumerate(rows)]
    assert any("x" in to_promtool_values(row) for row in rows)
    cases: list[tuple[Expr, int]] = [
        (sel("s", row=str(i)), step * 60)
        for i, row in enumerate(rows)
        for step, value in enumerate(row)
        if value is not None
    ]
    run_promtool_test(tmp_path, expr_test_file(series, 60, cases))
