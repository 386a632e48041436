"""Label sets and an in-memory sample store that answers PromQL selections."""

from __future__ import annotations

import random
import struct
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping

Labels = tuple[tuple[str, str], ...]
Vector = dict[Labels, float]
Sample = tuple[int, float]

LOOKBACK_MS = 300_000
"""Prometheus' default lookback delta (5m), which promtool uses."""

_STALE_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", _STALE_BITS))[0]
"""The NaN bit pattern Prometheus writes as a staleness marker."""


def is_stale(value: float) -> bool:
    return struct.unpack("<Q", struct.pack("<d", value))[0] == _STALE_BITS


def labels_of(mapping: Mapping[str, str]) -> Labels:
    """Sorted label pairs; an empty value means the label is absent, as in Prometheus."""
    return tuple(sorted((name, value) for name, value in mapping.items() if value != ""))


def without(labels: Labels, *names: str) -> Labels:
    return tuple(pair for pair in labels if pair[0] not in names)


def keep_only(labels: Labels, names: tuple[str, ...]) -> Labels:
    return tuple(pair for pair in labels if pair[0] in names)


def to_ms(t: float) -> int:
    """Seconds to integer milliseconds, the resolution Prometheus stores."""
    return round(t * 1000)


def _same_value(a: float, b: float) -> bool:
    return struct.pack("<d", a) == struct.pack("<d", b)


class _Samples:
    """Samples of one series: sorted timestamps for bisection and their values alongside."""

    def __init__(self) -> None:
        self.times: list[int] = []
        self.vals: list[float] = []
        self.has_stale = False

    def add(self, ms: int, value: float) -> None:
        if not self.times or ms > self.times[-1]:
            self.times.append(ms)
            self.vals.append(value)
        else:
            index = bisect_left(self.times, ms)
            if index < len(self.times) and self.times[index] == ms:
                if not _same_value(self.vals[index], value):
                    raise ValueError(f"conflicting sample at {ms}ms: {self.vals[index]} vs {value}")
                return
            self.times.insert(index, ms)
            self.vals.insert(index, value)
        self.has_stale = self.has_stale or is_stale(value)

    def latest(self, ms: int) -> float | None:
        """Newest sample in [ms - lookback, ms], unless it is a staleness marker."""
        index = bisect_right(self.times, ms) - 1
        if index < 0 or self.times[index] < ms - LOOKBACK_MS:
            return None
        value = self.vals[index]
        return None if self.has_stale and is_stale(value) else value

    def window(self, start: int, end: int) -> list[Sample]:
        """Samples in the closed interval [start, end], staleness markers dropped."""
        lo, hi = bisect_left(self.times, start), bisect_right(self.times, end)
        pairs = list(zip(self.times[lo:hi], self.vals[lo:hi], strict=True))
        if self.has_stale:
            return [(t, v) for t, v in pairs if not is_stale(v)]
        return pairs


class SeriesDB:
    """Samples per series, timestamps in seconds (float or int).

    Selections return series in label order. promtool instead returns them in creation
    order, which is random per run, so sums of three or more inexact floats can differ
    from run to run there. With `shuffle_seed`, series come back in a seeded random
    creation order instead: predictions that agree across seeds are safe to assert.
    """

    def __init__(self, shuffle_seed: int | None = None) -> None:
        self._series: dict[Labels, _Samples] = {}
        self._rank: dict[Labels, float] = {}
        self._rng = None if shuffle_seed is None else random.Random(shuffle_seed)
        self._ordered: list[tuple[Labels, _Samples]] | None = None
        self._matches: dict[Callable[[Labels], bool], list[tuple[Labels, _Samples]]] = {}

    def add(self, labels: Mapping[str, str] | Labels, t: float, value: float) -> None:
        key = labels_of(dict(labels) if isinstance(labels, tuple) else labels)
        if key not in self._series:
            self._series[key] = _Samples()
            self._ordered = None
            self._matches.clear()
            if self._rng is not None:
                self._rank[key] = self._rng.random()
        self._series[key].add(to_ms(t), value)

    def series(self) -> dict[Labels, list[tuple[float, float]]]:
        return {
            labels: [
                (_seconds(ms), value) for ms, value in zip(samples.times, samples.vals, strict=True)
            ]
            for labels, samples in sorted(self._series.items())
        }

    def latest(self, match: Callable[[Labels], bool], ms: int) -> Vector:
        """Instant-vector selection at ms."""
        out: Vector = {}
        for labels, samples in self._matching(match):
            value = samples.latest(ms)
            if value is not None:
                out[labels] = value
        return out

    def windows(
        self, match: Callable[[Labels], bool], start: int, end: int
    ) -> dict[Labels, list[Sample]]:
        """Range-vector selection over [start, end]; series without samples are left out."""
        out: dict[Labels, list[Sample]] = {}
        for labels, samples in self._matching(match):
            window = samples.window(start, end)
            if window:
                out[labels] = window
        return out

    def _matching(self, match: Callable[[Labels], bool]) -> list[tuple[Labels, _Samples]]:
        """Series a selector matches, cached until a new series appears (selectors are
        frozen dataclasses, so their bound `matches` methods are stable cache keys)."""
        cached = self._matches.get(match)
        if cached is not None:
            return cached
        if self._ordered is None:
            self._ordered = sorted(
                self._series.items(), key=lambda item: (self._rank.get(item[0], 0.0), item[0])
            )
        found = [item for item in self._ordered if match(item[0])]
        self._matches[match] = found
        return found


def _seconds(ms: int) -> float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000
