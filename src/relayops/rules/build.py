"""Small constructors shared by the rule builders: selectors, sums, rates, groups."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from prometheus_client.utils import floatToGoString

from relayops.promql import (
    Aggregate,
    Binary,
    Expr,
    Matcher,
    Number,
    Range,
    Rate,
    Selector,
)
from relayops.promql.simulate import AlertRule, RecordingRule, RuleGroup


@dataclass(frozen=True)
class Group:
    """A rule group as written to the rule file; `interval` None means the global interval."""

    name: str
    rules: tuple[RecordingRule | AlertRule, ...]
    interval: int | None = None

    def for_simulation(self) -> RuleGroup:
        return RuleGroup(name=self.name, rules=self.rules)


def le_value(bound: float) -> str:
    """The `le` label exactly as prometheus_client exposes it (2.0 -> "2.0")."""
    return floatToGoString(bound)


def le_match(bound: float) -> str:
    """A matcher value for the bucket `bound` however its `le` is spelled: prometheus_client
    and Prometheus 3 write `2.0`, Go clients and the Pushgateway (which re-exposes what it was
    pushed) write `2`. Either spelling selects the bucket; a bound with one spelling (0.5) is
    matched exactly. (`sel` makes a value holding '|' a regex alternative.)"""
    python = floatToGoString(bound)
    go = python.removesuffix(".0")
    if go == python:
        return python
    return f"{re.escape(go)}|{re.escape(python)}"


def sel(name: str, matchers: Mapping[str, str] | None = None, **more: str) -> Selector:
    """Equality selector; a value holding '|' becomes a regex alternative."""
    pairs = {**(matchers or {}), **more}
    return Selector(name, tuple(_matcher(k, v) for k, v in pairs.items()))


@lru_cache(maxsize=4096)
def _matcher(label: str, value: str) -> Matcher:
    """Matchers are immutable and rules repeat the same few thousand: each is checked once."""
    return Matcher(label, "=~" if "|" in value else "=", value)


def sum_rate(selector: Selector, seconds: int, by: tuple[str, ...]) -> Expr:
    return Aggregate("sum", Rate(Range(selector, seconds)), by)


def div(lhs: Expr, rhs: Expr, on: tuple[str, ...] | None = None) -> Expr:
    return Binary("/", lhs, rhs, on=on)


def above(expr: Expr, level: float, op: str = ">") -> Expr:
    return Binary(op, expr, Number(level))


def guarded(condition: Expr, guard: Expr, on: tuple[str, ...]) -> Expr:
    """`condition and on(...) guard`: $value stays the condition's quantity, never the guard's."""
    return Binary("and", condition, guard, on=on)
