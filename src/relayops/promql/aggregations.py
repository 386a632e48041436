"""Aggregation operators: sum, max, min, count, avg and topk, grouped `by` labels.

Elements are folded in input-vector order (SeriesDB's selection order). promtool loads
series in Go map order, so where partial sums round, promtool's own result changes from
run to run; only order-independent inputs give exact predictions (see SeriesDB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from relayops.promql.base import Expr, put, require_vector
from relayops.promql.storage import Labels, SeriesDB, Vector, keep_only

_OPS = ("sum", "max", "min", "count", "avg")


def _grouping(by: tuple[str, ...]) -> str:
    return f" by ({', '.join(by)}) " if by else ""


def _fold(op: str, values: list[float]) -> float:
    if op == "count":
        return float(len(values))
    result = values[0]
    for count, value in enumerate(values[1:], start=2):
        if op == "sum":
            result += value
        elif op == "max":
            if result < value or math.isnan(result):
                result = value
        elif op == "min":
            if result > value or math.isnan(result):
                result = value
        else:
            result = _mean_step(result, value, count)
    return result


def _mean_step(mean: float, value: float, count: int) -> float:
    """One step of 2.42's incremental mean, which keeps an infinite mean once reached."""
    if math.isinf(mean) and (
        (math.isinf(value) and (mean > 0) == (value > 0))
        or not (math.isinf(value) or math.isnan(value))
    ):
        return mean
    return mean + (value / count - mean / count)


@dataclass(frozen=True)
class Aggregate(Expr):
    op: str
    expr: Expr
    by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"unsupported aggregation {self.op!r}; expected one of {_OPS}")
        require_vector(self.expr, self.op)

    def render(self) -> str:
        return f"{self.op}{_grouping(self.by)}({self.expr.render()})"

    def eval_ms(self, db: SeriesDB, ms: int) -> Vector:
        groups: dict[Labels, list[float]] = {}
        for labels, value in self.expr.eval_vector(db, ms).items():
            groups.setdefault(keep_only(labels, self.by), []).append(value)
        return {labels: _fold(self.op, values) for labels, values in groups.items()}


@dataclass(frozen=True)
class TopK(Expr):
    """topk keeps whole input elements; among equal values promtool's choice is arbitrary."""

    k: int
    expr: Expr
    by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require_vector(self.expr, "topk")

    def render(self) -> str:
        return f"topk{_grouping(self.by)}({self.k}, {self.expr.render()})"

    def eval_ms(self, db: SeriesDB, ms: int) -> Vector:
        kept: dict[Labels, list[tuple[Labels, float]]] = {}
        for labels, value in self.expr.eval_vector(db, ms).items():
            group = kept.setdefault(keep_only(labels, self.by), [])
            if len(group) < self.k:
                group.append((labels, value))
                continue
            if not group:
                continue
            lowest = min(range(len(group)), key=lambda i: _rank(group[i][1]))
            if _rank(group[lowest][1]) < _rank(value):
                group[lowest] = (labels, value)
        out: Vector = {}
        for group in kept.values():
            for labels, value in group:
                put(out, labels, value)
        return out


def _rank(value: float) -> tuple[bool, float]:
    """topk's ordering: NaN below everything else."""
    return (not math.isnan(value), value if not math.isnan(value) else 0.0)
