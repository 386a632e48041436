"""Text exposition of a group's state, rendered by prometheus_client."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from relayops.synth.state import GroupState


class _StateCollector:
    def __init__(self, state: GroupState):
        self.state = state

    def collect(self) -> Iterator[Metric]:
        for metric, keys in self.state.series():
            names = list(metric.labels)
            if metric.type == "histogram":
                family = HistogramMetricFamily(metric.name, metric.help, labels=names)
                for h in self.state.histograms(metric):
                    family.add_metric([h.labels[n] for n in names], h.buckets, h.sum)
            else:
                kind = CounterMetricFamily if metric.type == "counter" else GaugeMetricFamily
                family = kind(metric.name, metric.help, labels=names)
                for key in keys:
                    labels = dict(key)
                    family.add_metric([labels[n] for n in names], self.state.exposed(key))
            yield family


def render(state: GroupState) -> bytes:
    """The whole group as Prometheus text format 0.0.4, ready for a Pushgateway PUT."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StateCollector(state))
    return generate_latest(registry)
