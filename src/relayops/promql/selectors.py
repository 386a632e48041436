"""Series selection: label matchers, instant and range selectors, and absent()."""

from __future__ import annotations

import re
from dataclasses import dataclass

from relayops.promql.base import Expr
from relayops.promql.storage import Labels, Sample, SeriesDB, Vector, labels_of
from relayops.promql.text import format_compound, format_duration, quote

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_MATCH_OPS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if not _LABEL_NAME.fullmatch(self.label):
            raise ValueError(f"invalid label name {self.label!r}")
        if self.op not in _MATCH_OPS:
            raise ValueError(f"invalid matcher op {self.op!r}; expected one of {_MATCH_OPS}")
        if self.op in ("=~", "!~"):
            re.compile(self.value)

    def render(self) -> str:
        return f"{self.label}{self.op}{quote(self.value)}"

    def matches(self, value: str) -> bool:
        """Match a label value; a missing label matches as the empty string."""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        hit = re.fullmatch(self.value, value) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True)
class Selector(Expr):
    name: str
    matchers: tuple[Matcher, ...] = ()

    def __post_init__(self) -> None:
        if not self.name and all(m.matches("") for m in self.matchers):
            raise ValueError("a selector needs a name or a matcher that rejects empty values")

    def render(self) -> str:
        if not self.matchers:
            return self.name
        return f"{self.name}{{{','.join(m.render() for m in self.matchers)}}}"

    def matches(self, labels: Labels) -> bool:
        values = dict(labels)
        if self.name and values.get("__name__") != self.name:
            return False
        return all(m.matches(values.get(m.label, "")) for m in self.matchers)

    def eval_ms(self, db: SeriesDB, ms: int) -> Vector:
        return db.latest(self.matches, ms)


@dataclass(frozen=True)
class Range:
    """A range selector `sel[5m]`; only usable as a function argument."""

    selector: Selector
    seconds: int

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("range must be positive")

    def render(self) -> str:
        return f"{self.selector.render()}[{format_compound(self.seconds)}]"

    def samples(self, db: SeriesDB, ms: int) -> dict[Labels, list[Sample]]:
        """Samples with timestamps in the closed window [ms - range, ms] (as in 2.42)."""
        return db.windows(self.selector.matches, ms - self.seconds * 1000, ms)


@dataclass(frozen=True)
class Offset(Expr):
    """`sel offset 5m`: the instant selection as it stood `seconds` earlier."""

    selector: Selector
    seconds: int

    def render(self) -> str:
        return f"{self.selector.render()} offset {format_duration(self.seconds)}"

    def eval_ms(self, db: SeriesDB, ms: int) -> Vector:
        return self.selector.eval_ms(db, ms - self.seconds * 1000)


@dataclass(frozen=True)
class Absent(Expr):
    selector: Selector

    def render(self) -> str:
        return f"absent({self.selector.render()})"

    def eval_ms(self, db: SeriesDB, ms: int) -> Vector:
        if self.selector.eval_ms(db, ms):
            return {}
        return {self._labels(): 1.0}

    def _labels(self) -> Labels:
        """Labels of equality matchers, minus any label also constrained another way."""
        equal: dict[str, str] = {}
        ambiguous: set[str] = set()
        for m in self.selector.matchers:
            if m.label == "__name__":
                continue
            if m.op == "=" and m.label not in equal:
                equal[m.label] = m.value
            else:
                ambiguous.add(m.label)
        return labels_of({k: v for k, v in equal.items() if k not in ambiguous})
