"""The recording rules an expression depends on, so a simulation evaluates only those."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

from relayops.promql import Expr, Range, Selector
from relayops.promql.simulate import AlertRule, RecordingRule, RuleGroup
from relayops.rules.build import Group


def selectors(node: object) -> Iterator[Selector]:
    if isinstance(node, Selector):
        yield node
    if isinstance(node, Expr | Range) and dataclasses.is_dataclass(node):
        for item in dataclasses.fields(node):
            yield from selectors(getattr(node, item.name))


def prune(groups: Sequence[Group], keep: set[str]) -> list[RuleGroup]:
    """Groups holding only the alerts/records named in `keep` and the records they read."""
    records = {r.record: r for g in groups for r in g.rules if isinstance(r, RecordingRule)}
    needed: set[str] = set()
    todo = [r.expr for g in groups for r in g.rules if isinstance(r, AlertRule) and r.alert in keep]
    todo += [records[name].expr for name in keep if name in records]
    needed |= keep & set(records)
    while todo:
        for sel in selectors(todo.pop()):
            if sel.name in records and sel.name not in needed:
                needed.add(sel.name)
                todo.append(records[sel.name].expr)
    pruned = []
    for group in groups:
        rules = tuple(
            r
            for r in group.rules
            if (isinstance(r, RecordingRule) and r.record in needed)
            or (isinstance(r, AlertRule) and r.alert in keep)
        )
        if rules:
            pruned.append(RuleGroup(name=group.name, rules=rules))
    return pruned
