"""Turn rule groups into rule-file YAML, and write a set of rendered files all-or-nothing."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from relayops.promql.simulate import AlertRule, RecordingRule
from relayops.rules.build import Group
from relayops.rules.yamltext import dumps
from relayops.spec.durations import format_duration


def dump_yaml(data: dict, header: str) -> str:
    return "".join(f"# {line}\n" for line in header.splitlines()) + dumps(data)


_QUOTE = re.compile(r'(?<!\\)"')  # a quote that is not escaped
_SET_OPS = re.compile(r" (and|or|unless)( (?:on|ignoring) \([^)]*\))? ")


def pretty(promql: str) -> str:
    """One line per operand of the top-level `and`/`or`/`unless`, for reviewable rule files.

    Newlines are whitespace to PromQL, so the expression means exactly the same.
    """
    cuts = []
    depth, quoted, scanned = 0, False, 0
    for match in _SET_OPS.finditer(promql):
        between = promql[scanned : match.start()]
        scanned = match.start()
        for part in _QUOTE.split(between) if '"' in between else (between,):
            if not quoted:
                depth += sum(map(part.count, "([{")) - sum(map(part.count, ")]}"))
            quoted = not quoted
        quoted = not quoted  # split gives one more part than there are quotes
        if depth == 0 and not quoted:
            cuts.append(match)
    if not cuts:
        return promql
    parts, start = [], 0
    for match in cuts:
        parts += [promql[start : match.start()], match.group(0).strip()]
        start = match.end()
    return "\n".join([*parts, promql[start:]])


def _rule(rule: RecordingRule | AlertRule) -> dict:
    if isinstance(rule, RecordingRule):
        out: dict = {"record": rule.record, "expr": rule.expr.render()}
        if rule.labels:
            out["labels"] = dict(rule.labels)
        return out
    out = {"alert": rule.alert, "expr": pretty(rule.expr.render())}
    if rule.for_seconds:
        out["for"] = format_duration(rule.for_seconds)
    out["labels"] = dict(rule.labels)
    out["annotations"] = dict(rule.annotations)
    return out


def group_entries(groups: Iterable[Group]) -> list[dict]:
    """Rule groups as a rule file (and every target that embeds one) writes them."""
    entries = []
    for group in groups:
        entry: dict = {"name": group.name}
        if group.interval:
            entry["interval"] = format_duration(group.interval)
        entry["rules"] = [_rule(r) for r in group.rules]
        entries.append(entry)
    return entries


def rule_file(groups: Iterable[Group], header: str) -> str:
    return dump_yaml({"groups": group_entries(groups)}, header)


def write_tree(root: Path, files: Mapping[str, str], managed: Iterable[str]) -> list[str]:
    """Write `files` (relative path -> text) under root; delete stale files in managed folders.

    Every file is first written beside its target and renamed into place, so a failure leaves
    each file either old or new, never half-written. Returns the relative paths that changed.
    """
    root = Path(root)
    changed = []
    staged: list[tuple[Path, Path]] = []
    try:
        for rel, text in sorted(files.items()):
            target = root / rel
            if target.is_file() and target.read_text(encoding="utf-8") == text:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            staged.append((Path(tmp), target))
            changed.append(rel)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
    for folder in managed:
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and rel not in files:
                path.unlink()
                changed.append(rel)
    return changed
