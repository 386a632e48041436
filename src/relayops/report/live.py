"""The six readiness points measured in Prometheus over the observation window.

Each point is judged per provider and fails when any provider fails; a provider without data
makes the point "no data" (which scores as a failure) unless another provider already failed.
Every query is evaluated at the end of the window and reads `[since]` back from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from relayops.drill.observe import PromReader
from relayops.report.model import Point
from relayops.rules.alert_def import alert_ref
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.labels import COMPONENT, PAGING_SEVERITY, PROVIDER, SEVERITY, SLO_LABEL, STATUS
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.series import ProviderSeries

CONTROLLER_MIN_SUCCESS = 0.95
ERROR_RATIO_MAX = 0.01
LATENCY_MAX_S = 0.5
BUILD_TIME_MAX_S = 0.5
SUCCESS = "success"  # a status value the controller_runs role must list
NO_DATA = "no data"


@dataclass(frozen=True)
class Window:
    """The observation window: queries run `at` its end and look `since_s` back."""

    at: float
    since_s: int

    @property
    def range(self) -> str:
        return f"[{format_duration(self.since_s)}]"


def selector(name: str, labels: dict[str, str]) -> str:
    matchers = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{matchers}}}"


def _values(reader: PromReader, query: str, at: float) -> list[float]:
    """The query's values at `at`, NaN (a ratio of no traffic) dropped."""
    return [v for _, v in reader.instant(query, at) if not math.isnan(v)]


def _judge(
    name: str,
    threshold: str,
    measured: dict[str, float | None],
    ok: Callable[[float], bool],
    show: Callable[[float], str],
    missing: str = NO_DATA,
) -> Point:
    """Fail when a provider fails; "no data" when none fails but one has no data."""
    if not measured:
        return Point(name, None, missing, threshold)
    text = "; ".join(
        f"{who} {missing if v is None else show(v)}" for who, v in sorted(measured.items())
    )
    values = [v for v in measured.values() if v is not None]
    if not all(ok(v) for v in values):
        return Point(name, False, text, threshold)
    return Point(name, True if len(values) == len(measured) else None, text, threshold)


def _pct(v: float) -> str:
    return f"{v * 100:.2f}%"


def _ms(v: float) -> str:
    return f"{v * 1000:.0f} ms"


def _worst_over_time(
    reader: PromReader, specs: SpecSet, window: Window, name: Callable[[ProviderSeries], str]
) -> dict[str, float | None]:
    """Per provider: the largest `quantile_over_time(0.95, series[since])`, or None."""
    measured: dict[str, float | None] = {}
    for spec in specs.providers:
        series = selector(name(ProviderSeries(specs.service, spec)), spec.selector)
        values = _values(reader, f"quantile_over_time(0.95, {series}{window.range})", window.at)
        measured[spec.name] = max(values) if values else None
    return measured


def controller_success(reader: PromReader, specs: SpecSet, window: Window) -> Point:
    """Successful / all rollout-controller runs, from the increase of the runs counter."""
    runs = specs.service.metrics[Role.CONTROLLER_RUNS].name

    def increase(labels: dict[str, str]) -> dict[str, float]:
        query = f"sum by (provider) (increase({selector(runs, labels)}{window.range}))"
        return {labels[PROVIDER]: v for labels, v in reader.instant(query, window.at)}

    success, total = increase({STATUS: SUCCESS}), increase({})
    measured: dict[str, float | None] = {}
    for spec in specs.providers:
        all_runs = total.get(spec.provider, 0.0)
        measured[spec.name] = success.get(spec.provider, 0.0) / all_runs if all_runs > 0 else None
    return _judge(
        "controller run success",
        f"> {_pct(CONTROLLER_MIN_SUCCESS)}",
        measured,
        lambda v: v > CONTROLLER_MIN_SUCCESS,
        _pct,
        missing="no controller runs recorded",
    )


def error_ratio(reader: PromReader, specs: SpecSet, window: Window) -> Point:
    measured = _worst_over_time(reader, specs, window, lambda n: n.outcome_ratio("error"))
    return _judge(
        "error ratio p95",
        f"< {_pct(ERROR_RATIO_MAX)}",
        measured,
        lambda v: v < ERROR_RATIO_MAX,
        _pct,
    )


def latency(reader: PromReader, specs: SpecSet, window: Window) -> Point:
    """The 95th percentile over the window of the recorded p95: a sustained slowdown fails it,
    a single slow evaluation does not."""
    measured = _worst_over_time(
        reader, specs, window, lambda n: n.latency_quantile("p95", by_status=False)
    )
    return _judge(
        "latency p95", f"< {_ms(LATENCY_MAX_S)}", measured, lambda v: v < LATENCY_MAX_S, _ms
    )


def _slo_violation(
    reader: PromReader, specs: SpecSet, spec: ProviderSpec, window: Window
) -> tuple[bool | None, str]:
    names = ProviderSeries(specs.service, spec)
    page = {"alertstate": "firing", SEVERITY: PAGING_SEVERITY, COMPONENT: "slo"}
    pages = selector("ALERTS", {**page, PROVIDER: spec.provider})
    fired = sorted(
        {
            alert_ref(labels)
            for labels, _ in reader.instant(f"max_over_time({pages}{window.range})", window.at)
        }
    )
    budgets: dict[str, float | None] = {}
    for slo in spec.slos:
        series = selector(names.slo_budget_remaining(slo), {**spec.selector, SLO_LABEL: slo.name})
        values = _values(reader, f"min_over_time({series}{window.range})", window.at)
        budgets[slo.name] = min(values) if values else None
    text = ", ".join(
        f"{slo} budget {NO_DATA if v is None else _pct(v)}" for slo, v in budgets.items()
    )
    if fired:
        return False, f"{', '.join(fired)} paged; {text}"
    if any(v is not None and v < 0 for v in budgets.values()):
        return False, text
    return (None if None in budgets.values() else True), f"no page; {text}"


def slo_violation(reader: PromReader, specs: SpecSet, window: Window) -> Point:
    """A page-severity burn alert in ALERTS is already past its `for`; budgets are the lowest
    remaining share of each SLO's period budget over the window."""
    results = {spec.name: _slo_violation(reader, specs, spec, window) for spec in specs.providers}
    verdicts = [passed for passed, _ in results.values()]
    passed = False if False in verdicts else None if None in verdicts else True
    measured = "; ".join(f"{who}: {text}" for who, (_, text) in sorted(results.items()))
    return Point(
        "no sustained SLO violation",
        passed,
        measured,
        "no critical burn alert fired; budget remaining ≥ 0",
    )


def build_time(reader: PromReader, specs: SpecSet, window: Window) -> Point:
    """p95 over the window of each build-time signal's recorded p95 (signals whose alert is a
    quantile_above)."""
    measured: dict[str, float | None] = {}
    for spec in specs.providers:
        names = ProviderSeries(specs.service, spec)
        for signal in spec.signals:
            if signal.alert is None or signal.alert.kind != "quantile_above":
                continue
            series = selector(names.signal_quantile(signal, "p95"), spec.selector)
            query = f"quantile_over_time(0.95, {series}{window.range})"
            values = _values(reader, query, window.at)
            measured[f"{spec.name} {signal.name}"] = max(values) if values else None
    return _judge(
        "build time p95",
        f"< {_ms(BUILD_TIME_MAX_S)}",
        measured,
        lambda v: v < BUILD_TIME_MAX_S,
        _ms,
    )


def error_codes(reader: PromReader, specs: SpecSet, window: Window) -> Point:
    """Codes whose structured-error rate was above zero in the window, against the taxonomy.
    A provider without structured-error series has no data; one whose series all stayed at
    zero returned no code."""
    name = "no unexpected error codes"
    taxonomy = set(specs.service.metrics[Role.STRUCTURED_ERRORS].values.get("code", ()))
    threshold = f"every code in the taxonomy ({len(taxonomy)} codes)"
    seen: dict[str, set[str] | None] = {}
    for spec in specs.providers:
        series = selector(ProviderSeries(specs.service, spec).structured_error_rate, spec.selector)
        query = f"max by (code) (max_over_time({series}{window.range}))"
        result = reader.instant(query, window.at)
        seen[spec.name] = (
            {labels.get("code", "") for labels, v in result if v > 0} if result else None
        )
    unexpected = sorted(set().union(*(codes for codes in seen.values() if codes)) - taxonomy)
    text = "; ".join(
        f"{who} {NO_DATA if codes is None else ', '.join(sorted(codes)) or 'no code'}"
        for who, codes in sorted(seen.items())
    )
    if unexpected:
        return Point(name, False, f"unexpected: {', '.join(unexpected)} ({text})", threshold)
    return Point(name, None if None in seen.values() else True, text, threshold)


LIVE_POINTS = (controller_success, error_ratio, latency, slo_violation, build_time, error_codes)


def live_points(reader: PromReader, specs: SpecSet, window: Window) -> list[Point]:
    return [measure(reader, specs, window) for measure in LIVE_POINTS]


def critical_alerts(reader: PromReader, at: float, state: str = "firing") -> list[str]:
    """`alertname/provider` of every critical alert in `state` (firing or pending) at `at`."""
    query = selector("ALERTS", {"alertstate": state, SEVERITY: PAGING_SEVERITY})
    return sorted(
        {
            f"{labels.get('alertname')}/{labels.get('provider', '-')}"
            for labels, _ in reader.instant(query, at)
        }
    )
