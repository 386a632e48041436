"""Alertmanager label matchers, written in `matchers:` syntax and evaluated the same way."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

OPS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown matcher operator {self.op!r}; use one of {OPS}")

    def render(self) -> str:
        quoted = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{quoted}"'

    def matches(self, labels: Mapping[str, str]) -> bool:
        """As Alertmanager does: a missing label is the empty string, regexes are anchored."""
        value = labels.get(self.name, "")
        if self.op in ("=", "!="):
            hit = value == self.value
        else:
            hit = re.fullmatch(self.value, value) is not None
        return hit if self.op in ("=", "=~") else not hit


def equals(name: str, value: str) -> Matcher:
    return Matcher(name, "=", value)


def one_of(name: str, values: Iterable[str]) -> Matcher:
    """`name` equals one of `values`: a plain equality when there is only one."""
    unique = sorted(set(values))
    if not unique:
        raise ValueError(f"one_of({name!r}) needs at least one value")
    if len(unique) == 1:
        return equals(name, unique[0])
    return Matcher(name, "=~", "|".join(re.escape(v) for v in unique))


def match_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
