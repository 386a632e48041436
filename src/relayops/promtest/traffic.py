"""Per-minute increments of a provider's series, built from the metric catalog."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from relayops.promql import Labels
from relayops.promtest.timeline import key
from relayops.rules.build import le_value
from relayops.rules.measure import Events, Share
from relayops.spec import SpecSet
from relayops.spec.metrics import MetricDef, Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.signals import Signal


def observe(
    metric: MetricDef, labels: Mapping[str, str], counts: Mapping[float, float]
) -> dict[Labels, float]:
    """Histogram increments for `counts` observations at the given values (_bucket and _count)."""
    out: dict[Labels, float] = {}
    total = sum(counts.values())
    for bound in (*(metric.buckets or ()), float("inf")):
        below = sum(n for value, n in counts.items() if value <= bound)
        out[key(metric.series("_bucket"), {**labels, "le": le_value(bound)})] = below
    out[key(metric.series("_count"), labels)] = total
    return out


def merge(*parts: Mapping[Labels, float]) -> dict[Labels, float]:
    total: Counter[Labels] = Counter()
    for part in parts:
        total.update(part)
    return dict(total)


class Traffic:
    """Builders of increments per minute for one provider's send path and signals."""

    def __init__(self, specs: SpecSet, spec: ProviderSpec):
        self.specs = specs
        self.spec = spec
        self.match = spec.selector

    def metric(self, role: str) -> MetricDef:
        return self.specs.metric(role)

    @property
    def fast_seconds(self) -> float:
        """Ordinary requests land in the first latency bucket."""
        return self.metric(Role.LATENCY).buckets[0]

    def send(
        self,
        success: float = 0,
        error: float = 0,
        rejected: float = 0,
        slow: Mapping[float, float] | None = None,
        slow_errors: Mapping[float, float] | None = None,
    ) -> dict[Labels, float]:
        """Requests per minute by status; `slow` moves that many successes to other latencies,
        `slow_errors` that many errors."""
        requests = self.metric(Role.REQUESTS)
        latency = self.metric(Role.LATENCY)
        moved = {"success": dict(slow or {}), "error": dict(slow_errors or {})}
        parts = []
        for status, count in (("success", success), ("error", error), ("rejected", rejected)):
            if not count:
                continue
            parts.append({key(requests.name, {**self.match, "status": status}): count})
            elsewhere = moved.get(status, {})
            observed = merge({self.fast_seconds: count - sum(elsewhere.values())}, elsewhere)
            parts.append(
                observe(
                    latency,
                    {**self.match, "status": status},
                    {v: n for v, n in observed.items() if n},
                )
            )
        return merge(*parts)

    def structured(self, code: str, source: str, count: float) -> dict[Labels, float]:
        metric = self.metric(Role.STRUCTURED_ERRORS)
        return {key(metric.name, {**self.match, "code": code, "source": source}): count}

    def error_reasons(self, reason: str, count: float) -> dict[Labels, float]:
        metric = self.metric(Role.ERRORS)
        return {key(metric.name, {**self.match, "reason": reason}): count}

    def counter(self, role: str, count: float, **labels: str) -> dict[Labels, float]:
        metric = self.metric(role)
        base = self.own_labels(metric)
        return {key(metric.name, {**base, **labels}): count}

    def ratio_events(self, signal: Signal, failing: float, volume: float) -> dict[Labels, float]:
        """Events of a signal with a ratio alert: `failing` of `volume` base events fall in
        the numerator; a value on neither side (e.g. completed uploads) takes the rest."""
        alert = signal.alert
        values = self.metric(signal.metric).values[alert.label]
        denominator = alert.denominator or values
        bad = alert.numerator[0]
        counts = {bad: failing}
        if bad in denominator:
            good = next((v for v in denominator if v not in alert.numerator), None)
            if good is None:
                raise ValueError(
                    "the denominator has no value outside the numerator, so the ratio is "
                    "always 100%"
                )
            counts[good] = volume - failing
        else:
            counts[denominator[0]] = volume
            rest = [v for v in values if v not in alert.numerator and v not in denominator]
            if rest:
                counts[rest[0]] = volume - failing
        return merge(
            *(self.counter(signal.metric, n, **{alert.label: v}) for v, n in counts.items())
        )

    def own_labels(self, metric: MetricDef) -> dict[str, str]:
        """The provider's selector labels that the metric has (provider, action)."""
        return {k: v for k, v in self.match.items() if k in metric.labels}

    def labels_of(self, events: Events) -> dict[str, str]:
        """The one series events are put on: the provider's own labels, and every other label
        at the first value the events may take."""
        metric = events.metric
        labels = self.own_labels(metric)
        for label in metric.labels:
            if label in labels:
                continue
            values = events.values(label)
            if not values:
                raise ValueError(
                    f"label {label!r} of {metric.name} has no known values; list them under "
                    f"metrics.<role>.values.{label} in service.yaml"
                )
            labels[label] = values[0]
        return labels

    def events(self, events: Events, count: float) -> dict[Labels, float]:
        """`count` of these events; a request also observes its latency (the first bucket),
        a histogram's event is an observation in its first bucket."""
        if not count:
            return {}
        metric = events.metric
        labels = self.labels_of(events)
        if metric == self.metric(Role.REQUESTS):
            return self.send(**{labels["status"]: count})
        if metric.type == "histogram":
            return observe(metric, labels, {metric.buckets[0]: count})
        return {key(metric.name, labels): count}

    def share(self, share: Share, bad: float, volume: float) -> dict[Labels, float]:
        """`bad` numerator events out of `volume` denominator events. When the numerator's
        events are denominator events too, the rest of the volume takes a value outside the
        numerator; otherwise the whole volume is counted apart."""
        numerator, denominator = share.numerator, share.denominator
        chosen = self.labels_of(numerator)
        if numerator.metric == denominator.metric and denominator.counts(chosen):
            return merge(
                self.events(numerator, bad),
                self.events(_outside(denominator, numerator), volume - bad),
            )
        return merge(self.events(numerator, bad), self.events(denominator, volume))

    def observations(
        self, histogram: MetricDef, moved: Mapping[float, float], volume: float
    ) -> dict[Labels, float]:
        """`volume` observations, all in the first bucket but `moved` (value: count); request
        latency comes with the requests that observed it."""
        if histogram == self.metric(Role.LATENCY):
            return self.send(success=volume, slow=moved)
        first = {histogram.buckets[0]: volume - sum(moved.values())}
        labels = self.own_labels(histogram)
        return observe(histogram, labels, {v: n for v, n in merge(first, moved).items() if n})

    def histogram(self, role: str, counts: Mapping[float, float]) -> dict[Labels, float]:
        metric = self.metric(role)
        base = self.own_labels(metric)
        return observe(metric, base, counts)


def _outside(denominator: Events, numerator: Events) -> Events:
    """Denominator events that are not numerator events: a label the numerator picks, at a
    value it does not pick."""
    for label, picked in numerator.where:
        rest = tuple(v for v in denominator.values(label) if v not in picked)
        if rest:
            return Events.of(denominator.metric, **{**denominator.picked, label: rest})
    raise ValueError(
        "the denominator has no value outside the numerator, so the ratio is always 100%"
    )
