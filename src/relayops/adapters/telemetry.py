"""The adapters' metrics, named and labelled by the spec's catalog, one registry per adapter.

An adapter emits the send-path roles and the catalog metrics its provider's signals name
(MIME build time for Gmail, Graph payload build time, uploads and OAuth refreshes for
Outlook, sanitizer changes, attachment bytes, cid references). Every known label value is
created at zero up front, so `rate()` sees a series from the first scrape instead of a gap.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from relayops.spec import SpecSet
from relayops.spec.labels import SEND_KEYS
from relayops.spec.metrics import MetricDef, Role
from relayops.spec.provider import ProviderSpec

SEND_PATH_ROLES = (Role.REQUESTS, Role.LATENCY, Role.ERRORS, Role.STRUCTURED_ERRORS)


def emitted_keys(spec: ProviderSpec) -> tuple[str, ...]:
    """Catalog keys an adapter of this provider emits."""
    return (*SEND_PATH_ROLES, *dict.fromkeys(s.metric for s in spec.signals))


@dataclass
class AdapterMetrics:
    registry: CollectorRegistry
    provider: str  # label value
    action: str
    by_key: dict[str, Counter | Histogram]

    def _child(self, key: str, **labels: str):
        return self.by_key[key].labels(provider=self.provider, action=self.action, **labels)

    def count(self, key: str, amount: float = 1.0, **labels: str) -> None:
        if key in self.by_key and amount:
            self._child(key, **labels).inc(amount)

    def observe(self, key: str, seconds: float, **labels: str) -> None:
        if key in self.by_key:
            self._child(key, **labels).observe(seconds)


def _instrument(metric: MetricDef, registry: CollectorRegistry) -> Counter | Histogram:
    if metric.type == "histogram":
        return Histogram(
            metric.name, metric.help, metric.labels, buckets=metric.buckets, registry=registry
        )
    if metric.type == "counter":
        return Counter(metric.name, metric.help, metric.labels, registry=registry)
    raise ValueError(f"{metric.name} is a {metric.type}; adapters emit counters and histograms")


def adapter_metrics(
    specs: SpecSet, spec: ProviderSpec, registry: CollectorRegistry | None = None
) -> AdapterMetrics:
    registry = registry or CollectorRegistry()
    by_key = {}
    for key in emitted_keys(spec):
        metric = specs.service.metrics[key]
        instrument = _instrument(metric, registry)
        extra = [label for label in metric.labels if label not in SEND_KEYS]
        values = [metric.values.get(label, ()) for label in extra]
        if all(values):
            for combo in itertools.product(*values):
                instrument.labels(
                    provider=spec.provider,
                    action=spec.action,
                    **dict(zip(extra, combo, strict=True)),
                )
        by_key[key] = instrument
    return AdapterMetrics(registry, spec.provider, spec.action, by_key)
