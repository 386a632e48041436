"""Binary operators with 2.42's vector matching and result-label rules."""

from __future__ import annotations

import math
from dataclasses import dataclass

from relayops.promql.base import Expr, put
from relayops.promql.storage import Labels, SeriesDB, Vector, keep_only, without

_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "unless": 2,
    "==": 3,
    "!=": 3,
    "<": 3,
    "<=": 3,
    ">": 3,
    ">=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
}
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
SET_OPS = frozenset({"and", "or", "unless"})


def _divide(a: float, b: float) -> float:
    """Go's float division: x/0 is a signed infinity and 0/0 is NaN instead of an error."""
    if b != 0 or math.isnan(b):
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _apply(op: str, lhs: float, rhs: float) -> tuple[float, bool]:
    """(value, keep) like vectorElemBinop: comparisons return the left value and the verdict."""
    if op == "+":
        return lhs + rhs, True
    if op == "-":
        return lhs - rhs, True
    if op == "*":
        return lhs * rhs, True
    if op == "/":
        return _divide(lhs, rhs), True
    verdict = {
        "==": lhs == rhs,
        "!=": lhs != rhs,
        "<": lhs < rhs,
        "<=": lhs <= rhs,
        ">": lhs > rhs,
        ">=": lhs >= rhs,
    }[op]
    return lhs, verdict


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    lhs: Expr
    rhs: Expr
    on: tuple[str, ...] | None = None
    bool_: bool = False

    def __post_init__(self) -> None:
        if self.op not in _PRECEDENCE:
            raise ValueError(f"unsupported binary operator {self.op!r}")
        if self.bool_ and self.op not in COMPARISONS:
            raise ValueError("bool is only allowed on comparison operators")
        if self.op in SET_OPS and (self.lhs.is_scalar or self.rhs.is_scalar):
            raise ValueError(f"set operator {self.op} needs instant vectors on both sides")
        if self.op in COMPARISONS and self.is_scalar and not self.bool_:
            raise ValueError("comparisons between scalars must use bool")
        if self.on is not None and (self.lhs.is_scalar or self.rhs.is_scalar):
            raise ValueError("on(...) needs instant vectors on both sides")

    @property
    def precedence(self) -> int:
        return _PRECEDENCE[self.op]

    @property
    def is_scalar(self) -> bool:
        return self.lhs.is_scalar and self.rhs.is_scalar

    def render(self) -> str:
        lhs = self.lhs.render()
        if self.lhs.precedence < self.precedence:
            lhs = f"({lhs})"
        rhs = self.rhs.render()
        if self.rhs.precedence <= self.precedence:
            rhs = f"({rhs})"
        modifiers = " bool" if self.bool_ else ""
        if self.on is not None:
            modifiers += f" on ({', '.join(self.on)})"
        return f"{lhs} {self.op}{modifiers} {rhs}"

    def eval_ms(self, db: SeriesDB, ms: int) -> Vector | float:
        lhs, rhs = self.lhs.eval_ms(db, ms), self.rhs.eval_ms(db, ms)
        if isinstance(lhs, dict) and isinstance(rhs, dict):
            if self.op in SET_OPS:
                return self._set_op(lhs, rhs)
            return self._vector_vector(lhs, rhs)
        if isinstance(lhs, dict):
            return self._vector_scalar(lhs, float(rhs), swap=False)
        if isinstance(rhs, dict):
            return self._vector_scalar(rhs, lhs, swap=True)
        value, keep = _apply(self.op, lhs, rhs)
        return float(keep) if self.op in COMPARISONS else value

    def _signature(self, labels: Labels) -> Labels:
        return without(labels, "__name__") if self.on is None else keep_only(labels, self.on)

    def _vector_vector(self, lhs: Vector, rhs: Vector) -> Vector:
        right: dict[Labels, float] = {}
        for labels, value in rhs.items():
            signature = self._signature(labels)
            if signature in right:
                raise ValueError(f"duplicate series for match group {signature} on the right side")
            right[signature] = value
        out: Vector = {}
        matched: set[Labels] = set()
        for labels, value in lhs.items():
            signature = self._signature(labels)
            if signature not in right:
                continue
            result, keep = _apply(self.op, value, right[signature])
            if self.bool_:
                result = float(keep)
            elif not keep:
                continue
            if signature in matched:
                raise ValueError(f"multiple matches for labels {signature}: many-to-one matching")
            matched.add(signature)
            put(out, self._result_labels(labels), result)
        return out

    def _result_labels(self, labels: Labels) -> Labels:
        """resultMetric for one-to-one matching: with on(...) only those labels survive."""
        if self.op not in COMPARISONS or self.bool_:
            labels = without(labels, "__name__")
        return labels if self.on is None else keep_only(labels, self.on)

    def _vector_scalar(self, vector: Vector, scalar: float, swap: bool) -> Vector:
        out: Vector = {}
        for labels, value in vector.items():
            lhs, rhs = (scalar, value) if swap else (value, scalar)
            result, keep = _apply(self.op, lhs, rhs)
            if self.op in COMPARISONS:
                result = value
            if self.bool_:
                result, keep = float(keep), True
            if keep:
                drop_name = self.op not in COMPARISONS or self.bool_
                put(out, without(labels, "__name__") if drop_name else labels, result)
        return out

    def _set_op(self, lhs: Vector, rhs: Vector) -> Vector:
        right = {self._signature(labels) for labels in rhs}
        if self.op == "and":
            return {k: v for k, v in lhs.items() if self._signature(k) in right}
        if self.op == "unless":
            return {k: v for k, v in lhs.items() if self._signature(k) not in right}
        out = dict(lhs)
        left = {self._signature(labels) for labels in lhs}
        for labels, value in rhs.items():
            if self._signature(labels) not in left:
                put(out, labels, value)
        return out
