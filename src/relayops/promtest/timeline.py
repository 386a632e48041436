"""Synthetic input series for generated promtool tests: counters that really increase.

A Timeline is built phase by phase; every counter starts at 0 at t=0 and grows by its
per-step increment in each phase, so every rate() over it is positive where traffic flows.
"""

from __future__ import annotations

from collections.abc import Mapping

from relayops.promql import Labels, labels_of
from relayops.rules.series import InputSeries

Increments = Mapping[Labels, float]


class Timeline:
    """Samples every `sample` seconds (default: every step), in phases of whole `step`s, the
    interval the test evaluates the rules at. Sampling more often than evaluating lets rules
    that read a short offset (the period group's tiles) see samples in a coarse-step test."""

    def __init__(self, step: int, sample: int | None = None):
        self.step = step
        self.sample = sample or step
        if step % self.sample:
            raise ValueError(f"the {step}s step is not a multiple of the {self.sample}s sampling")
        self.steps = 1  # sample 0 holds the starting values
        self._counters: dict[Labels, list[float | None]] = {}
        self._gauges: dict[Labels, list[float | None]] = {}
        self._present: list[bool] = [True]

    @property
    def end(self) -> int:
        """Timestamp (s) of the last sample."""
        return (self.steps - 1) * self.sample

    def _series(
        self, table: dict[Labels, list[float | None]], key: Labels, start: float | None
    ) -> list[float | None]:
        if key not in table:
            table[key] = [start if present else None for present in self._present]
        return table[key]

    def run(
        self,
        seconds: int,
        per_minute: Increments,
        gauges: Mapping[Labels, float] = (),
        present: bool = True,
    ) -> int:
        """Append `seconds` of samples; counters grow at `per_minute`, gauges hold their value.

        Returns the timestamp where the phase started.
        """
        if seconds % self.step:
            raise ValueError(f"phase of {seconds}s is not a multiple of the {self.step}s step")
        start = self.end
        per_step = {k: v * self.sample / 60 for k, v in per_minute.items()}
        for key in per_step:
            self._series(self._counters, key, 0.0)
        gauge_values = dict(gauges)
        for key in gauge_values:
            self._series(self._gauges, key, None)
        # The last sampled value of each series: a stretch without samples (None) does not
        # end a series, and searching back through a long one at every step is quadratic.
        counters = {k: _last(v, 0.0) for k, v in self._counters.items()}
        held = {k: gauge_values.get(k, _last(v, None)) for k, v in self._gauges.items()}
        for _ in range(seconds // self.sample):
            self._present.append(present)
            for key, values in self._counters.items():
                if present:
                    counters[key] += per_step.get(key, 0.0)
                values.append(counters[key] if present else None)
            for key, values in self._gauges.items():
                values.append(held[key] if present else None)
        self.steps += seconds // self.sample
        return start

    def input_series(self) -> list[InputSeries]:
        table = {**self._counters, **self._gauges}
        return [InputSeries(dict(labels), list(values)) for labels, values in sorted(table.items())]


def _last(values: list[float | None], default: float | None) -> float | None:
    return next((v for v in reversed(values) if v is not None), default)


def key(name: str, labels: Mapping[str, str]) -> Labels:
    return labels_of({"__name__": name, **labels})
