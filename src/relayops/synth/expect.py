"""Which alerts a scenario's traffic drives above their level, read off the traffic itself.

Each phase's per-request increments are evaluated the way the rules read them (ratios of sums,
bucket quantiles, traffic guards). An alert "fires" when some phase holds its quantity above the
level; it then fires once that phase lasts the alert's detection time (README alert table).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from relayops.promql import Labels
from relayops.promql.quantile import bucket_quantile
from relayops.rules.alert_def import AlertDef
from relayops.rules.alerts import alert_defs
from relayops.rules.build import le_value
from relayops.rules.measure import (
    Absence,
    Age,
    BudgetBurn,
    Distinct,
    Events,
    Measure,
    Quantile,
    Share,
)
from relayops.spec import SpecSet
from relayops.spec.metrics import MetricDef, Role
from relayops.spec.provider import ProviderSpec
from relayops.synth.traffic import RequestTraffic, Shape

Increments = Mapping[Labels, float]


def _sum(incs: Increments, name: str, **labels: Iterable[str] | str) -> float:
    total = 0.0
    for key, value in incs.items():
        series = dict(key)
        if series["__name__"] != name:
            continue
        if all(
            series.get(k) == v if isinstance(v, str) else series.get(k) in v
            for k, v in labels.items()
        ):
            total += value
    return total


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _quantile(incs: Increments, metric: MetricDef, q: float) -> float:
    bounds = (*(metric.buckets or ()), float("inf"))
    buckets = [(b, _sum(incs, metric.series("_bucket"), le=le_value(b))) for b in bounds]
    return bucket_quantile(q, buckets)


class Expectation:
    def __init__(self, specs: SpecSet, spec: ProviderSpec):
        self.specs = specs
        self.spec = spec
        self.traffic = RequestTraffic(specs, spec)

    def fires(self, alert: AlertDef, shape: Shape | None, heartbeat: bool, rate: float) -> bool:
        """Whether `shape` at `rate` requests/s (None: no series at all) crosses the alert."""
        if isinstance(alert.measure, Age):
            return not heartbeat
        if isinstance(alert.measure, Absence) or shape is None:
            return isinstance(alert.measure, Absence) and shape is None
        incs = self.traffic.per_request(shape)
        per_second = rate * shape.rate
        return self.holds(
            alert, lambda seconds: {k: v * per_second * seconds for k, v in incs.items()}
        )

    def holds(self, alert: AlertDef, events: Callable[[float], Increments]) -> bool:
        """Whether a leveled or burn alert's condition is true, given `events(seconds)`: the
        events of the last `seconds` of traffic (each rule window reads its own)."""
        if isinstance(alert.measure, BudgetBurn):
            tier, slo = alert.tier, alert.slo
            factor = tier.factor(slo.period)
            long = events(tier.long_window)

            def burning(seconds: int, level: float) -> bool:
                incs = events(seconds)
                return self.slo_requests(alert, incs) == 0 or self.burn(alert, incs) > level

            return (
                self.burn(alert, long) > factor
                and burning(tier.short_window, factor)
                and (not slo.checks_now(tier) or burning(slo.now_window, 1))
                and (
                    self.slo_requests(alert, long) >= tier.min_events
                    or (
                        self.bad_events(alert, long) >= tier.min_bad_events
                        and self.burn(alert, long) * slo.error_budget >= tier.low_traffic_bad_share
                    )
                )
            )
        window = alert.measure.window
        incs = events(window)
        quantity = self.quantity(alert.measure, incs)
        if math.isnan(quantity) or quantity <= alert.level:
            return False
        return alert.guarded_by is None or self.count(alert.guarded_by, incs) / window > alert.guard

    def burn(self, alert: AlertDef, incs: Increments) -> float:
        """The budget-burn multiple of a burn alert's SLO over the events `incs`."""
        m = self.specs.metric
        slo = alert.slo
        if slo.sli.type == "error_ratio":
            requests = _sum(incs, m(Role.REQUESTS).name)
            bad = _ratio(_sum(incs, m(Role.REQUESTS).name, status=slo.sli.error_statuses), requests)
        else:
            latency = m(Role.LATENCY)
            fast = _sum(incs, latency.series("_bucket"), le=le_value(slo.sli.threshold_seconds))
            bad = 1 - _ratio(fast, _sum(incs, latency.series("_count")))
        return bad / slo.error_budget

    def slo_requests(self, alert: AlertDef, incs: Increments) -> float:
        """The events a burn alert's SLO counts: requests, or latency observations."""
        m = self.specs.metric
        if alert.slo.sli.type == "error_ratio":
            return _sum(incs, m(Role.REQUESTS).name)
        return _sum(incs, m(Role.LATENCY).series("_count"))

    def bad_events(self, alert: AlertDef, incs: Increments) -> float:
        burn = self.burn(alert, incs)
        return (
            0.0
            if math.isnan(burn)
            else burn * alert.slo.error_budget * self.slo_requests(alert, incs)
        )

    def count(self, events: Events, incs: Increments) -> float:
        return _sum(incs, events.series, **events.picked)

    def quantity(self, measure: Measure, incs: Increments) -> float:
        """A leveled alert's measure over the events `incs`; NaN where it has no events to be
        computed from."""
        match measure:
            case Share(numerator=numerator, denominator=denominator):
                return _ratio(self.count(numerator, incs), self.count(denominator, incs))
            case Quantile(histogram=histogram, q=q):
                return _quantile(incs, histogram, q)
            case Distinct(events=events, label=label):
                seen = {
                    dict(k).get(label)
                    for k, v in incs.items()
                    if v and dict(k)["__name__"] == events.series and events.counts(dict(k))
                }
                return len(seen)
        raise TypeError(f"{measure!r} is not the measure of a leveled alert")

    def split(
        self, phases: Iterable[Shape | None], heartbeat: bool, rate: float
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(alerts some phase fires, alerts that stay silent), as alert refs."""
        shapes = list(phases)
        fires, silent = [], []
        for alert in alert_defs(self.specs, self.spec):
            hit = any(self.fires(alert, shape, heartbeat, rate) for shape in shapes)
            (fires if hit else silent).append(alert.ref)
        return tuple(dict.fromkeys(fires)), tuple(dict.fromkeys(silent))
