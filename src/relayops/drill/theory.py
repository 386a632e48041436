"""When a drill's alerts should fire and clear, worked out from the time-scaled specs.

The traffic in any window is known exactly: a healthy stretch, then the fault, then healthy
again. Each rule reads a window of it the way Prometheus does (ratios of sums, bucket
quantiles, traffic guards), so the first moment an alert's condition holds after the fault
starts (and stops holding after it ends) is found by bisection on the window's contents.
A window that reaches back past the first push holds only the traffic there is: rate()
extrapolates numerator and denominator alike, so their ratio is that of the traffic present.

On top of the window math comes the pipeline's delay: a push is visible up to one tick late,
scraped up to one scrape interval later, and every rule-group hop between the raw series and
the alert waits up to its group's evaluation interval (the long burn windows, derived in the
period group, change only every period_rules_interval). `Pipeline.delay` is the mean of that
wait.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import yaml

from relayops.rules.alert_def import AlertDef, alert_ref
from relayops.rules.measure import Absence, Age
from relayops.spec import SpecSet
from relayops.spec.durations import parse_duration
from relayops.spec.labels import ALERTNAME
from relayops.synth.expect import Expectation, Increments
from relayops.synth.traffic import Shape

PRECISION_SECONDS = 0.01
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")

Segment = tuple[Shape | None, float]
"""A stretch of traffic: its shape (None: no series) and how many seconds it lasted."""


def evaluation_hops(rule_files: Iterable[str], interval: float) -> dict[str, tuple[float, ...]]:
    """For each alert rule of the rule files (YAML texts), by its ref (`Name/tier` or
    `Name/severity`), the evaluation intervals of the rule
    groups between the raw series and its firing, from the first to the alert's own group:
    one for an alert on raw series, one more for each recorded series it reads from another
    group (rules earlier in the same group are evaluated in the same pass, so reading them adds
    no wait). A group without its own `interval` runs every `interval` seconds; of several
    paths the one with the longest total wait counts."""
    rules: list[tuple[dict, str, int]] = []
    every: dict[str, float] = {}
    for text in rule_files:
        for group in (yaml.safe_load(text) or {}).get("groups", []):
            own = group.get("interval")
            every[group["name"]] = float(parse_duration(own)) if own else interval
            rules += [(rule, group["name"], index) for index, rule in enumerate(group["rules"])]
    recorded = {
        rule["record"]: (group, index, rule["expr"])
        for rule, group, index in rules
        if "record" in rule
    }
    memo: dict[str, tuple[float, ...]] = {}

    def path(expr: str, group: str, index: int) -> tuple[float, ...]:
        slowest: tuple[float, ...] = (every[group],)
        for dep in set(_NAME.findall(expr)) & set(recorded):
            dep_group, dep_index, dep_expr = recorded[dep]
            if dep not in memo:
                memo[dep] = path(dep_expr, dep_group, dep_index)
            same_pass = dep_group == group and dep_index < index
            through = memo[dep] if same_pass else (*memo[dep], every[group])
            slowest = max(slowest, through, key=sum)
        return slowest

    hops: dict[str, tuple[float, ...]] = {}
    for rule, group, index in rules:
        if "alert" in rule:
            ref = alert_ref({ALERTNAME: rule["alert"], **rule.get("labels", {})})
            hops[ref] = max(hops.get(ref, ()), path(rule["expr"], group, index), key=sum)
    return hops


@dataclass(frozen=True)
class Pipeline:
    """Push tick, scrape and evaluation intervals of the drill stack, in seconds, and each
    alert's evaluation hops (`evaluation_hops`)."""

    tick: float
    scrape: float
    evaluation: float
    hops: Mapping[str, tuple[float, ...]]

    def _evaluations(self, alert: AlertDef) -> tuple[float, ...]:
        return self.hops.get(alert.ref, (self.evaluation,))

    def _parts(self, alert: AlertDef) -> list[float]:
        """The intervals whose phase adds a uniform wait before the alert can see a change."""
        evaluations = self._evaluations(alert)
        if isinstance(alert.measure, Age):  # time() against a pushed time: only evaluation
            return [evaluations[-1]]
        if isinstance(alert.measure, Absence):  # deleted at once; the next scrape: stale
            return [self.scrape, *evaluations]
        return [self.tick, self.scrape, *evaluations]

    def spread(self, alert: AlertDef) -> float:
        """How much further than an evaluation-interval hop one run's wait can stray from
        its mean: half of each hop's interval beyond the evaluation interval (the period
        group's windows change only every period_rules_interval)."""
        return sum(max(0.0, hop - self.evaluation) for hop in self._evaluations(alert)) / 2

    def delay(self, alert: AlertDef, data_age: float | None = None) -> float:
        """The mean wait; being a sum of uniform waits, one run strays at most this much
        from it either way.

        With `data_age`, how old the pushed data was at the evaluation at which the alert
        became pending (measured in the run), that age stands for the scrape wait, the alert's
        own evaluation wait and any lateness of pushes and scrapes on a loaded machine; the push
        tick and the earlier evaluation hops keep their mean waits. Alerts on missing or stalled
        data have no pushed data to age and keep the mean."""
        if data_age is None or not alert.reads_pushed_data:
            return sum(self._parts(alert)) / 2
        return (self.tick + sum(self._evaluations(alert)[:-1])) / 2 + data_age


def first_true(holds: Callable[[float], bool], horizon: float) -> float | None:
    """The first t in [0, horizon] at which `holds` (false, then true for good) is true."""
    if holds(0.0):
        return 0.0
    if not holds(horizon):
        return None
    low, high = 0.0, horizon
    while high - low > PRECISION_SECONDS:
        middle = (low + high) / 2
        low, high = (low, middle) if holds(middle) else (middle, high)
    return high


class WindowTheory:
    """Alert conditions over windows of a known traffic history, for one provider."""

    def __init__(self, expectation: Expectation, rate: float):
        self.expect = expectation
        self.rate = rate
        self._per_request: dict[int, tuple[Shape, Increments]] = {}

    def _increments(self, shape: Shape) -> Increments:
        cached = self._per_request.get(id(shape))
        if cached is None or cached[0] is not shape:
            cached = (shape, self.expect.traffic.per_request(shape))
            self._per_request[id(shape)] = cached
        return cached[1]

    def window(self, history: Sequence[Segment], seconds: float) -> dict:
        """Events of the last `seconds` of `history` (segments from newest to oldest)."""
        events: dict = {}
        left = seconds
        for shape, length in history:
            if left <= 0:
                break
            taken = min(left, length)
            left -= taken
            if shape is None or taken <= 0:
                continue
            weight = taken * self.rate * shape.rate
            for key, value in self._increments(shape).items():
                events[key] = events.get(key, 0.0) + value * weight
        return events

    def holds(self, alert: AlertDef, history: Sequence[Segment]) -> bool:
        """Whether the alert's condition is true at the newest end of `history`."""
        return self.expect.holds(alert, lambda seconds: self.window(history, seconds))


@dataclass(frozen=True)
class Theory:
    """Detection and clearing times of one drill's alerts (seconds; None: never)."""

    windows: WindowTheory
    before: Shape | None  # the traffic before the fault (healthy)
    fault: Shape | None
    after: Shape | None  # the traffic once the fault is over (healthy)
    horizon: float

    def crossing(self, alert: AlertDef, prefix: float) -> float | None:
        """Seconds after the fault starts until the condition holds, with `prefix` seconds
        of `before` traffic in front of the fault (math.inf: every window full of it)."""
        if isinstance(alert.measure, Absence):
            return 0.0 if self.fault is None else None
        if isinstance(alert.measure, Age):
            return alert.level
        return first_true(
            lambda t: self.windows.holds(alert, [(self.fault, t), (self.before, prefix)]),
            self.horizon,
        )

    def detection(self, alert: AlertDef, prefix: float = math.inf) -> float | None:
        """Crossing plus the alert's `for`: when it fires, pipeline delay aside."""
        crossing = self.crossing(alert, prefix)
        return None if crossing is None else crossing + alert.rule.for_seconds

    def firing_in_run(
        self, alert: AlertDef, fault: float, prefix: float, until: float, step: float
    ) -> float | None:
        """Seconds after the fault starts at which the alert fires in a run whose fault lasted
        `fault` seconds, healthy before (`prefix` seconds of it) and after, evaluated every
        `step` up to `until`; None if it does not fire by then. Unlike `detection`, the fault
        may end first: a slow tier can still fire on the windows it left behind."""
        if not alert.reads_pushed_data:
            return None

        def holds(t: float) -> bool:
            if t <= fault:
                history = [(self.fault, t), (self.before, prefix)]
            else:
                history = [(self.after, t - fault), (self.fault, fault), (self.before, prefix)]
            return self.windows.holds(alert, history)

        return first_firing(holds, alert.rule.for_seconds, until, step)

    def clearing(self, alert: AlertDef, fault: float, prefix: float = math.inf) -> float | None:
        """Seconds after a fault of `fault` seconds ends until the condition stops holding."""
        if not alert.reads_pushed_data:
            return 0.0
        history = [(self.fault, fault), (self.before, prefix)]
        return first_true(
            lambda t: not self.windows.holds(alert, [(self.after, t), *history]), self.horizon
        )


def first_firing(
    holds: Callable[[float], bool], for_seconds: float, until: float, step: float
) -> float | None:
    """The first evaluation t in [0, until] (every `step`) at which a condition that holds at
    `holds(t)` has held at every evaluation of the last `for_seconds`: when an alert fires."""
    active: float | None = None
    t = 0.0
    while t <= until:
        if holds(t):
            active = t if active is None else active
            if t - active >= for_seconds:
                return t
        else:
            active = None
        t += step
    return None


def theory_for(
    specs: SpecSet, provider: str, before: Shape | None, fault: Shape | None, rate: float
) -> Theory:
    """The theory of a fault on `provider` of the (time-scaled) specs at `rate` requests/s."""
    expectation = Expectation(specs, specs.provider(provider))
    windows = WindowTheory(expectation, rate)
    horizon = max(
        [specs.service.rate_window]
        + [t.long_window for slo in specs.provider(provider).slos for t in slo.tiers]
    )
    return Theory(windows, before, fault, before, horizon)
