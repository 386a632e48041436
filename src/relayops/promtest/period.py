"""Proof that the period ratio is the exact event ratio at every evaluation.

Two inputs: a day of uneven traffic (a quiet night with a high failure share, a busy day with
a low one), then an hour in which half the requests fail and the other half are slow, then an
hour of healthy traffic; and a burst of failures followed by hours without samples and hours
of steady traffic, evaluated while the burst leaves a burn window summed from tiles (1d in the
shipped specs), built as the period sum is. The exact ratio at each
evaluation is counted here from the per-step events put into the input, not from any rule:
bad events over all events in the window that ends there. A step right after a stretch
without samples counts nothing: a counter without a sample one step earlier is not read as
having gained its whole value (see relayops.rules.recording.tile).

promtool evaluates every group at the test's interval, so the tests run at the period group's
own interval, as Prometheus does. Watching a burst leave the 3d window takes three days of
evaluations, the period a month (8,640 at 5 minutes, over 20 s of promtool per provider): too
slow for `relayops check` as a pre-commit hook, so tests/scenarios/test_period_sli.py watches
a burst leave every window and the period, on the rendered rules, in the project's own tests.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import cache

from relayops.promql import format_duration, format_number, format_series
from relayops.promtest.timeline import Timeline
from relayops.promtest.traffic import Traffic
from relayops.rules.recording import HOUR, derived_windows
from relayops.rules.series import promtool_input_series
from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.series import ProviderSeries
from relayops.spec.slo import SLO

TOLERANCE = 0.01
DAY = 24 * HOUR
# (hours, requests per minute, bad requests per minute)
UNEVEN_DAY = ((8, 4, 0.4), (16, 400, 0.2))
INCIDENT = ((1, 400, 200), (1, 400, 0.2))
BURST = (400, 40)  # for a quarter of the window watched
STEADY = (600, 0.3)


@dataclass(frozen=True)
class Stretch:
    seconds: int
    total: float  # requests per minute
    bad: float  # of which failed, and as many others slow, per minute
    present: bool = True  # False: no samples at all


def _traffic(specs: SpecSet, spec: ProviderSpec, total: float, bad: float) -> dict:
    """`bad` requests per minute fail and as many others are slow, out of `total` (so `bad`
    is at most half of it): each SLO, error ratio or latency, sees `bad` bad events a minute."""
    slow_bucket = max(specs.metric(Role.LATENCY).buckets)
    return Traffic(specs, spec).send(success=total - bad, error=bad, slow={slow_bucket: bad})


def _timeline(specs: SpecSet, spec: ProviderSpec, stretches: list[Stretch]) -> Timeline:
    timeline = Timeline(specs.service.period_rules_interval)
    for s in stretches:
        timeline.run(s.seconds, _traffic(specs, spec, s.total, s.bad), present=s.present)
    return timeline


def exact_ratio(stretches: list[Stretch], step: int, period: int, at: int) -> float:
    """Bad over all events in the steps ending in (at - period, at]."""
    bad, total = _events(stretches, step, period, at)
    return bad / total


def _events(stretches: list[Stretch], step: int, period: int, at: int) -> tuple[float, float]:
    """(bad, all) events counted in the steps ending in (at - period, at]."""
    ends, bad, total = _counted(tuple(stretches), step)
    first, last = bisect_right(ends, at - period), bisect_right(ends, at)
    return bad[last] - bad[first], total[last] - total[first]


@cache
def _counted(
    stretches: tuple[Stretch, ...], step: int
) -> tuple[list[int], list[float], list[float]]:
    """The end of every step, and the (bad, all) events counted up to each (running sums,
    starting at 0 before the first step)."""
    ends: list[int] = []
    bad, total = [0.0], [0.0]
    t = 0
    sampled_before = True  # sample 0 holds the starting values
    for s in stretches:
        for _ in range(s.seconds // step):
            t += step
            counted = s.present and sampled_before
            ends.append(t)
            bad.append(bad[-1] + (s.bad * step / 60 if counted else 0.0))
            total.append(total[-1] + (s.total * step / 60 if counted else 0.0))
            sampled_before = s.present
    return ends, bad, total


def _labels(spec: ProviderSpec, slo: SLO) -> str:
    return format_series(tuple(sorted({**spec.selector, "slo": slo.name}.items())))


def _within(series: str, exact: float) -> str:
    return f"abs({series} - {format_number(exact)}) / {format_number(exact)} < bool {TOLERANCE}"


def _incident_test(specs: SpecSet, spec: ProviderSpec) -> dict:
    names = ProviderSeries(specs.service, spec)
    step = specs.service.period_rules_interval
    stretches = [Stretch(hours * HOUR, total, bad) for hours, total, bad in UNEVEN_DAY]
    incident_start = sum(s.seconds for s in stretches)
    stretches += [Stretch(hours * HOUR, total, bad) for hours, total, bad in INCIDENT]
    timeline = _timeline(specs, spec, stretches)
    checks = []
    for slo in spec.slos:
        labels = _labels(spec, slo)
        ratio = names.slo_error_ratio(slo.period) + labels
        for at in range(incident_start, timeline.end + 1, step):
            exact = exact_ratio(stretches, step, slo.period, at)
            checks.append(
                {
                    "expr": _within(ratio, exact),
                    "eval_time": format_duration(at),
                    "exp_samples": [{"labels": labels, "value": 1}],
                }
            )
        exact = exact_ratio(stretches, step, slo.period, timeline.end)
        checks.append(
            {
                "expr": _within(
                    names.slo_budget_remaining(slo) + labels, 1 - exact / slo.error_budget
                ),
                "eval_time": format_duration(timeline.end),
                "exp_samples": [{"labels": labels, "value": 1}],
            }
        )
    return {
        "name": (
            f"{spec.name}: after a day of uneven traffic, through an hour in which half the "
            "requests fail or are slow and an hour of recovery, the period ratio is within "
            f"{TOLERANCE:.0%} of the exact event ratio at every evaluation"
        ),
        "interval": format_duration(step),
        "input_series": promtool_input_series(timeline.input_series()),
        "promql_expr_test": checks,
    }


def leaving_window(specs: SpecSet, spec: ProviderSpec) -> int:
    """The window the burst test watches the burst leave: the longest burn window summed from
    tiles that is at most a day (else the shortest such window), built as the period sum is.
    Longer windows take days of evaluations for the same proof, too slow for a pre-commit
    hook; tests/scenarios/test_period_sli.py watches every window and the period leave on the
    rendered rules. The period itself only when no window is summed from tiles."""
    derived = sorted({w for slo in spec.slos for w in derived_windows(specs.service, slo)})
    if not derived:
        return max(s.period for s in spec.slos)
    return max((w for w in derived if w <= DAY), default=derived[0])


def _leaving_test(specs: SpecSet, spec: ProviderSpec) -> dict:
    """A burst of failures leaves a tile-summed window step by step, with the period ratio
    checked at the same evaluations; then every period rule's value."""
    names = ProviderSeries(specs.service, spec)
    step = specs.service.period_rules_interval
    window = leaving_window(specs, spec)
    burst_total, burst_bad = BURST
    total, bad = STEADY
    burst = Stretch(max(step, window // 4 // step * step), burst_total, burst_bad)
    steady_from = window - max(step, window // 24 // step * step)
    stretches = [
        burst,
        Stretch(steady_from - burst.seconds - step, 0, 0, present=False),
        Stretch(step, total, bad),  # read as no events: nothing sampled one step earlier
        Stretch(burst.seconds + 2 * HOUR, total, bad),
    ]
    timeline = _timeline(specs, spec, stretches)
    checks = []
    for slo in spec.slos:
        labels = _labels(spec, slo)
        for seconds in sorted({window, slo.period}):
            ratio = names.slo_error_ratio(seconds) + labels
            for at in range(window - step, timeline.end + 1, step):
                checks.append(
                    {
                        "expr": _within(ratio, exact_ratio(stretches, step, seconds, at)),
                        "eval_time": format_duration(at),
                        "exp_samples": [{"labels": labels, "value": 1}],
                    }
                )
        end = timeline.end
        errors, requests = _events(stretches, step, slo.period, end)
        expected = {
            names.slo_errors_increase(step): bad * step / 60,
            names.slo_requests_increase(step): total * step / 60,
            names.slo_errors(slo.period): errors / slo.period,
            names.slo_requests(slo.period): requests / slo.period,
            names.slo_budget_remaining(slo): 1 - errors / requests / slo.error_budget,
        }
        checks += [
            {
                "expr": _within(name + labels, value),
                "eval_time": format_duration(end),
                "exp_samples": [{"labels": labels, "value": 1}],
            }
            for name, value in expected.items()
        ]
    return {
        "name": (
            f"{spec.name}: a burst of failures leaves the {format_duration(window)} ratio exactly "
            f"as it leaves the window (within {TOLERANCE:.0%} at every evaluation, the period "
            "ratio too), and every period rule's value after it"
        ),
        "interval": format_duration(step),
        "input_series": promtool_input_series(timeline.input_series()),
        "promql_expr_test": checks,
    }


def period_tests(specs: SpecSet, spec: ProviderSpec) -> tuple[int, list]:
    """The tests and their evaluation interval: the period group's own, as in production
    (promtool evaluates every group at the test's interval, whatever the group says)."""
    return specs.service.period_rules_interval, [
        _incident_test(specs, spec),
        _leaving_test(specs, spec),
    ]
