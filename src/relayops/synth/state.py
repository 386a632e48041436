"""Cumulative series of one Pushgateway group: exact running totals, exposed as whole events.

Totals grow by fractional amounts every tick; counters and buckets are exposed rounded down, so
slow traffic still yields whole requests (three an hour come out as three, not 0.0008 a second)
and every exposed value only ever grows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from relayops.promql import Labels
from relayops.promql.storage import without
from relayops.spec import SpecSet
from relayops.spec.metrics import MetricDef

SUFFIXES = ("_bucket", "_count")


@dataclass(frozen=True)
class Histogram:
    """One label set of a histogram: cumulative (le, count) pairs ending at +Inf, and the sum."""

    labels: dict[str, str]
    buckets: list[tuple[str, float]]
    sum: float


class GroupState:
    def __init__(self, specs: SpecSet):
        self._metrics: dict[str, tuple[MetricDef, str]] = {}
        for metric in specs.service.metrics.values():
            self._metrics[metric.name] = (metric, "")
            if metric.type == "histogram":
                for suffix in SUFFIXES:
                    self._metrics[metric.series(suffix)] = (metric, suffix)
        self._totals: dict[Labels, float] = {}
        self._sums: dict[tuple[str, Labels], float] = defaultdict(float)

    def _check(self, key: Labels) -> tuple[MetricDef, str]:
        """The catalog metric of a series; refuses names and label sets the catalog lacks."""
        labels = dict(key)
        name = labels.pop("__name__")
        if name not in self._metrics:
            raise ValueError(f"{name} is not in the metric catalog")
        metric, suffix = self._metrics[name]
        expected = set(metric.labels) | ({"le"} if suffix == "_bucket" else set())
        if set(labels) != expected:
            raise ValueError(f"{name} has labels {sorted(labels)}, the catalog {sorted(expected)}")
        return metric, suffix

    def add(self, increments: Mapping[Labels, float], factor: float = 1.0) -> None:
        """Add `factor` × each increment (factor 0 declares the series at zero)."""
        if factor < 0 or any(v < 0 for v in increments.values()):
            raise ValueError("counters only grow: increments and factor must be >= 0")
        buckets: dict[tuple[str, Labels], list[tuple[float, float]]] = defaultdict(list)
        for key, value in increments.items():
            metric, suffix = self._check(key)
            if metric.type == "gauge":
                raise ValueError(f"{metric.name} is a gauge; use set()")
            self._totals[key] = self._totals.get(key, 0.0) + value * factor
            if suffix == "_bucket":
                le = dict(key)["le"]
                buckets[(metric.name, without(key, "le", "__name__"))].append(
                    (float(le), value * factor)
                )
        for group, pairs in buckets.items():
            self._sums[group] += _sum_of(pairs)

    def set(self, key: Labels, value: float) -> None:
        metric, _ = self._check(key)
        if metric.type != "gauge":
            raise ValueError(f"{metric.name} is a {metric.type}; use add()")
        self._totals[key] = value

    def exposed(self, key: Labels) -> float:
        metric, _ = self._check(key)
        value = self._totals[key]
        return value if metric.type == "gauge" else math.floor(value + 1e-9)

    def series(self) -> list[tuple[MetricDef, list[Labels]]]:
        """Every key, grouped by catalog metric, sorted by metric name."""
        out: dict[str, tuple[MetricDef, list[Labels]]] = {}
        for key in sorted(self._totals):
            metric, _ = self._check(key)
            out.setdefault(metric.name, (metric, []))[1].append(key)
        return [out[name] for name in sorted(out)]

    def histograms(self, metric: MetricDef) -> list[Histogram]:
        """Every label set of `metric`, buckets sorted by bound and exposed as whole events."""
        buckets: dict[Labels, list[tuple[float, str, float]]] = defaultdict(list)
        for key in self._totals:
            labels = dict(key)
            if labels["__name__"] == metric.series("_bucket"):
                le = labels["le"]
                buckets[without(key, "le", "__name__")].append((float(le), le, self.exposed(key)))
        return [
            Histogram(
                dict(labels),
                [(le, n) for _, le, n in sorted(pairs)],
                self._sums[(metric.name, labels)],
            )
            for labels, pairs in sorted(buckets.items())
        ]


def _sum_of(pairs: list[tuple[float, float]]) -> float:
    """Sum of the observations behind cumulative bucket increments, each taken at its bucket's
    upper bound (the last finite bound for +Inf): the values the scenarios observe."""
    ordered = sorted(pairs)
    finite = [b for b, _ in ordered if math.isfinite(b)]
    total, below = 0.0, 0.0
    for bound, cumulative in ordered:
        value = bound if math.isfinite(bound) else (finite[-1] if finite else 0.0)
        total += value * (cumulative - below)
        below = cumulative
    return total
