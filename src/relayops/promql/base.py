"""The expression node interface every PromQL node implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from relayops.promql.storage import Labels, SeriesDB, Vector, to_ms

ATOM = 100
"""Precedence of nodes that never need parentheses (selectors, calls, literals)."""


class Expr(ABC):
    """A PromQL expression that renders to text and evaluates like Prometheus 2.42."""

    @property
    def precedence(self) -> int:
        return ATOM

    @property
    def is_scalar(self) -> bool:
        return False

    @abstractmethod
    def render(self) -> str: ...

    def evaluate(self, db: SeriesDB, t: float) -> Vector | float:
        """Instant query at t seconds: a float for scalar expressions, else a Vector."""
        return self.eval_ms(db, to_ms(t))

    @abstractmethod
    def eval_ms(self, db: SeriesDB, ms: int) -> Vector | float: ...

    def eval_vector(self, db: SeriesDB, ms: int) -> Vector:
        result = self.eval_ms(db, ms)
        if not isinstance(result, dict):
            raise TypeError(f"expected an instant vector from {self.render()}")
        return result


def require_vector(expr: Expr, context: str) -> None:
    if expr.is_scalar:
        raise ValueError(f"{context} needs an instant vector, got scalar {expr.render()}")


def put(out: Vector, labels: Labels, value: float) -> None:
    """Add a result element, failing where Prometheus fails on duplicate label sets."""
    if labels in out:
        raise ValueError(f"vector cannot contain metrics with the same labelset: {labels}")
    out[labels] = value
