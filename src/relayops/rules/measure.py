"""What an alert compares with its level, as data: which events are counted over which window
(a share of them, a quantile, the distinct values of a label), an SLO's budget burn, or the
absence or age of a series.

The rule's expression reads the series the recording rules write; the measure says what that
series means in the raw metrics. The promtool test generator makes traffic that moves it, synth
computes it from its own traffic and the runbooks and README say it in words, each from the
measure alone, so none of them needs to know which kind of alert it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from relayops.spec import SpecSet
from relayops.spec.metrics import MetricDef, Role
from relayops.spec.slo import SLO, BurnTier


@dataclass(frozen=True)
class Events:
    """The events a counter (or a histogram's `_count`) counts, among one provider's series:
    those whose listed labels take one of the listed values; any value of a label not listed."""

    metric: MetricDef
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, metric: MetricDef, **where: str | Iterable[str]) -> Events:
        picked = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in where.items()}
        return cls(metric, tuple(sorted(picked.items())))

    @property
    def series(self) -> str:
        """The series that counts them: a counter itself, a histogram's `_count`."""
        return self.metric.series("_count") if self.metric.type == "histogram" else self.metric.name

    @property
    def picked(self) -> dict[str, tuple[str, ...]]:
        return dict(self.where)

    def values(self, label: str) -> tuple[str, ...]:
        """The values of `label` these events can take: the listed ones, else every known one."""
        return self.picked.get(label) or self.metric.values.get(label, ())

    def counts(self, labels: Mapping[str, str]) -> bool:
        """Whether a series with these labels is one of these events."""
        return all(labels.get(k) in values for k, values in self.where)


@dataclass(frozen=True)
class Share:
    """Numerator events over denominator events, both counted over `window`."""

    numerator: Events
    denominator: Events
    window: int


@dataclass(frozen=True)
class Quantile:
    """The q-quantile of a histogram's observations over `window`, from its buckets."""

    histogram: MetricDef
    q: float
    window: int


@dataclass(frozen=True)
class Distinct:
    """How many values of `label` the events took over `window`."""

    events: Events
    label: str
    window: int


@dataclass(frozen=True)
class BudgetBurn:
    """How many times faster than its budget allows an SLO fails, over one tier's windows."""

    slo: SLO
    tier: BurnTier


@dataclass(frozen=True)
class Absence:
    """No series of the metric at all."""

    metric: MetricDef


@dataclass(frozen=True)
class Age:
    """Seconds since the unix time a gauge holds."""

    gauge: MetricDef


Measure = Share | Quantile | Distinct | BudgetBurn | Absence | Age


def follows_sli(measure: Measure, specs: SpecSet) -> str | None:
    """The SLI type whose events a threshold measures as an SLO of that type counts them:
    "error_ratio" for the failed share of all requests, "latency" for a quantile of the request
    latency; None for any other measure. Such a threshold fires on the same faults as the SLO."""
    requests = specs.metric(Role.REQUESTS)
    match measure:
        case Share(numerator=numerator, denominator=denominator) if (
            numerator.metric == requests and denominator == Events.of(requests)
        ):
            return "error_ratio"
        case Quantile(histogram=histogram) if histogram == specs.metric(Role.LATENCY):
            return "latency"
    return None
