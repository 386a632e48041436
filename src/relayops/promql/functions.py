"""Function calls and literals: rate, increase, avg_over_time, max_over_time, sum_over_time,
histogram_quantile, time, vector."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from relayops.promql.base import Expr, put, require_vector
from relayops.promql.quantile import Bucket, bucket_quantile, parse_go_float
from relayops.promql.rangefuncs import average_over_time, extrapolated_rate
from relayops.promql.selectors import Range
from relayops.promql.storage import Labels, Sample, SeriesDB, Vector, without
from relayops.promql.text import format_number


@dataclass(frozen=True)
class _RangeFunction(Expr):
    range: Range
    function: ClassVar[str]

    def render(self) -> str:
        return f"{self.function}({self.range.render()})"

    def eval_ms(self, db: SeriesDB, ms: int) -> Vector:
        out: Vector = {}
        start = ms - self.range.seconds * 1000
        for labels, samples in self.range.samples(db, ms).items():
            value = self._reduce(samples, start, ms)
            if value is not None:
                put(out, without(labels, "__name__"), value)
        return out

    @abstractmethod
    def _reduce(self, samples: list[Sample], start: int, end: int) -> float | None: ...


@dataclass(frozen=True)
class Rate(_RangeFunction):
    function: ClassVar[str] = "rate"

    def _reduce(self, samples: list[Sample], start: int, end: int) -> float | None:
        return extrapolated_rate(samples, start, end, is_counter=True, is_rate=True)


@dataclass(frozen=True)
class Increase(_RangeFunction):
    function: ClassVar[str] = "increase"

    def _reduce(self, samples: list[Sample], start: int, end: int) -> float | None:
        return extrapolated_rate(samples, start, end, is_counter=True, is_rate=False)


@dataclass(frozen=True)
class AvgOverTime(_RangeFunction):
    function: ClassVar[str] = "avg_over_time"

    def _reduce(self, samples: list[Sample], start: int, end: int) -> float | None:
        return average_over_time(samples)


@dataclass(frozen=True)
class MaxOverTime(_RangeFunction):
    function: ClassVar[str] = "max_over_time"

    def _reduce(self, samples: list[Sample], start: int, end: int) -> float | None:
        return max(value for _, value in samples) if samples else None


@dataclass(frozen=True)
class SumOverTime(_RangeFunction):
    function: ClassVar[str] = "sum_over_time"

    def _reduce(self, samples: list[Sample], start: int, end: int) -> float | None:
        return sum(value for _, value in samples)


@dataclass(frozen=True)
class HistogramQuantile(Expr):
    q: float
    expr: Expr

    def __post_init__(self) -> None:
        require_vector(self.expr, "histogram_quantile")

    def render(self) -> str:
        return f"histogram_quantile({format_number(self.q)}, {self.expr.render()})"

    def eval_ms(self, db: SeriesDB, ms: int) -> Vector:
        groups: dict[Labels, list[Bucket]] = {}
        for labels, value in self.expr.eval_vector(db, ms).items():
            bound = parse_go_float(dict(labels).get("le", ""))
            if bound is not None:
                groups.setdefault(without(labels, "le"), []).append((bound, value))
        out: Vector = {}
        for labels, buckets in groups.items():
            put(out, without(labels, "__name__"), bucket_quantile(self.q, buckets))
        return out


@dataclass(frozen=True)
class Time(Expr):
    @property
    def is_scalar(self) -> bool:
        return True

    def render(self) -> str:
        return "time()"

    def eval_ms(self, db: SeriesDB, ms: int) -> float:
        return ms / 1000


@dataclass(frozen=True)
class VectorOf(Expr):
    value: float

    def render(self) -> str:
        return f"vector({format_number(self.value)})"

    def eval_ms(self, db: SeriesDB, ms: int) -> Vector:
        return {(): float(self.value)}


@dataclass(frozen=True)
class Number(Expr):
    value: float

    @property
    def is_scalar(self) -> bool:
        return True

    def render(self) -> str:
        return format_number(self.value)

    def eval_ms(self, db: SeriesDB, ms: int) -> float:
        return float(self.value)
