"""Shapes of synthetic traffic, and the series increments one request of a shape produces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from relayops.promql import Labels
from relayops.promtest.traffic import Traffic, merge
from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.signals import Signal

VALIDATION = "validation"  # the structured-error source the model requires (REQUIRED_ROLES)
FAULT = "provider"  # failed requests are provider failures: reason and source hint
RATIO_VOLUME = 0.1  # events of a ratio signal's base per request (refreshes, upload sessions)


@dataclass(frozen=True)
class Shape:
    """Traffic at a steady state, as shares of requests.

    `signals` maps a signal name to its intensity, whose meaning follows its alert kind: the share
    of slow observations (quantile_above), events per request (per_request_above) or the failing
    share (ratio_above). Signals left out run at their healthy intensity.
    """

    error: float = 0.0
    rejected: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 0.0
    signal_slow_seconds: Mapping[str, float] = field(default_factory=dict)
    signals: Mapping[str, float] = field(default_factory=dict)
    rate: float = 1.0


def pick(values: tuple[str, ...], hint: str) -> str:
    """The first catalog value containing `hint` (provider -> provider_unavailable), else the
    first value: label values always come from the catalog."""
    return next((v for v in values if hint in v), values[0])


class RequestTraffic:
    """Series increments per request of one provider, built with the promtool tests' Traffic."""

    def __init__(self, specs: SpecSet, spec: ProviderSpec):
        self.specs = specs
        self.spec = spec
        self.traffic = Traffic(specs, spec)
        self._counted_failures = frozenset(f.metric for f in spec.rollout.health.failures)

    def per_request(self, shape: Shape) -> dict[Labels, float]:
        t = self.traffic
        success = 1.0 - shape.error - shape.rejected
        if success < 0 or shape.slow > success:
            raise ValueError(f"shares do not add up: {shape}")
        slow = {shape.slow_seconds: shape.slow} if shape.slow else None
        parts = [t.send(success=success, error=shape.error, rejected=shape.rejected, slow=slow)]
        structured = self.specs.metric(Role.STRUCTURED_ERRORS).values
        if shape.error:
            reasons = self.specs.metric(Role.ERRORS).values["reason"]
            source = pick(structured["source"], FAULT)
            parts.append(t.error_reasons(pick(reasons, FAULT), shape.error))
            parts.append(t.structured(pick(structured["code"], source), source, shape.error))
        if shape.rejected:
            source = pick(structured["source"], VALIDATION)
            parts.append(t.structured(pick(structured["code"], source), source, shape.rejected))
        declared: set[Labels] = set()
        for signal in self.spec.signals:
            events = self.signal(signal, shape)
            if signal.alert is not None and signal.alert.kind == "ratio_above":
                declared.update(events)  # failures at zero stay declared, as adapters do
            parts.append(events)
        return {k: v for k, v in merge(*parts).items() if v or k in declared}

    def signal(self, signal: Signal, shape: Shape) -> dict[Labels, float]:
        t = self.traffic
        metric = self.specs.metric(signal.metric)
        alert = signal.alert
        level = healthy_intensity(signal, self._counted_failures)
        intensity = shape.signals.get(signal.name, level)
        if metric.type == "histogram":
            fast = metric.buckets[0]
            if alert is None or alert.kind != "quantile_above" or not intensity:
                return t.histogram(signal.metric, {fast: 1.0})
            slow = shape.signal_slow_seconds[signal.name]
            return t.histogram(signal.metric, {fast: 1.0 - intensity, slow: intensity})
        if metric.type != "counter":
            return {}
        first = {label: values[0] for label, values in metric.values.items()}
        if alert is None:
            return t.counter(signal.metric, 1.0, **first)
        if alert.kind == "per_request_above":
            return t.counter(signal.metric, intensity, **first)
        return self._ratio(signal, intensity)

    def _ratio(self, signal: Signal, failing: float) -> dict[Labels, float]:
        """Base events at RATIO_VOLUME per request, a share `failing` of them failing."""
        return self.traffic.ratio_events(signal, failing * RATIO_VOLUME, RATIO_VOLUME)


def healthy_intensity(signal: Signal, counted_failures: frozenset[str] = frozenset()) -> float:
    """A tenth of the signal alert's lowest level: present but far from alerting. A failure
    the rollout controller counts against an absolute limit (OAuth refreshes: at most 5 in 15
    minutes) has none in healthy traffic: its series is present, every event succeeding, as a
    tenth of the ratio level would breach that limit at nominal traffic."""
    alert = signal.alert
    if alert is None or alert.kind == "quantile_above" or signal.metric in counted_failures:
        return 0.0
    return min(level for _, level in alert.levels()) / 10
