"""Read a YAML spec file, keep its node tree for line numbers, refuse duplicate keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from relayops.spec.errors import Loc, SpecIssue


@dataclass(frozen=True)
class YamlSource:
    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Loc) -> int | None:
        """1-based line of the deepest node on the path that exists in the file."""
        node, line = self.root, None
        for part in loc:
            if node is None:
                break
            line = node.start_mark.line + 1
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                node = next((v for k, v in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                node = node.value[part] if 0 <= part < len(node.value) else None
            else:
                break
        return node.start_mark.line + 1 if node is not None else line


def _duplicate_keys(node: yaml.Node | None, loc: Loc = ()) -> list[tuple[Loc, str, int]]:
    found: list[tuple[Loc, str, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                found.append(((*loc, name), name, key.start_mark.line + 1))
            seen.add(name)
            found += _duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, (*loc, index))
    return found


def read_yaml(path: Path) -> tuple[YamlSource | None, list[SpecIssue]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SpecIssue(path, (), f"cannot read the file: {exc}")]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [SpecIssue(path, (), f"not valid YAML: {problem}; fix the syntax", line)]
    issues = [
        SpecIssue(path, loc, f"key {name!r} appears twice in the same mapping; keep one", line)
        for loc, name, line in _duplicate_keys(root)
    ]
    if not isinstance(data, dict):
        issues.append(SpecIssue(path, (), "the file must hold a mapping of keys to values", 1))
    return YamlSource(path, data, root), issues
