"""What `relayops check` runs promtool on when the rules are rendered for several targets.

The generated tests name the plain rule files. When the `prometheus` target is rendered they run
on those; otherwise on plain files rebuilt, group by group, from the first embedding target
(a PrometheusRule or a Mimir namespace file), so the tests judge the groups that target ships.
Every embedding file is checked for its structure, its groups are written out for
`promtool check rules`, and they must equal the plain groups exactly.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from relayops.rules.layout import rule_files
from relayops.rules.output import dump_yaml
from relayops.rules.targets import TargetFileError, embedded_groups, target_path
from relayops.spec import SpecSet
from relayops.spec.provider import ProviderSpec
from relayops.spec.targets import Target


@dataclass
class CheckTree:
    root: Path  # holds prometheus/ and tests/: where the generated tests run
    extracted: list[Path] = field(default_factory=list)  # embedded groups as plain rule files
    problems: list[str] = field(default_factory=list)


def check_tree(specs: SpecSet, out: Path, targets: tuple[Target, ...], work: Path) -> CheckTree:
    embedding = [t for t in targets if t != "prometheus"]
    tree = CheckTree(out if "prometheus" in targets else work)
    if tree.root == work:
        shutil.copytree(out / "tests", work / "tests", dirs_exist_ok=True)
    for spec in specs.providers:
        found = _embedded(specs, spec, out, embedding, work, tree)
        if "prometheus" in targets:
            plain = _plain(specs, spec, out)
        elif found:
            plain = found[0][1]
            _rebuild(specs, spec, plain, work, tree)
        else:
            continue
        for rel, groups in found:
            if groups != plain:
                tree.problems.append(
                    f"{rel}: its groups differ from the plain rule files'; run `relayops render`"
                )
    return tree


def _embedded(
    specs: SpecSet,
    spec: ProviderSpec,
    out: Path,
    embedding: list[Target],
    work: Path,
    tree: CheckTree,
) -> list[tuple[str, list[dict]]]:
    """Each embedding file of the provider that exists (a missing one is drift, which the
    render check reports) and its groups, each also written out as a plain rule file."""
    found = []
    paths = [target_path(t, specs, spec) for t in embedding]
    for rel in [p for p in paths if (out / p).is_file()]:
        try:
            groups = embedded_groups(rel, (out / rel).read_text(encoding="utf-8"))
        except TargetFileError as exc:
            tree.problems.append(str(exc))
            groups = []
        extracted = work / "extracted" / rel
        extracted.parent.mkdir(parents=True, exist_ok=True)
        extracted.write_text(dump_yaml({"groups": groups}, f"groups of {rel}"), encoding="utf-8")
        if groups:
            tree.extracted.append(extracted)
        found.append((rel, groups))
    return found


def _plain(specs: SpecSet, spec: ProviderSpec, out: Path) -> list[dict]:
    groups = []
    for path in rule_files(specs, spec):
        try:
            groups += yaml.safe_load((out / path).read_text(encoding="utf-8"))["groups"]
        except (OSError, yaml.YAMLError, TypeError, KeyError):
            continue  # missing or unreadable: the render check reports the drift
    return groups


def _rebuild(
    specs: SpecSet, spec: ProviderSpec, groups: list[dict], work: Path, tree: CheckTree
) -> None:
    """The plain rule files, from embedded groups, where the generated tests look for them."""
    by_name = {g["name"]: g for g in groups}
    for path, held in rule_files(specs, spec).items():
        missing = [g.name for g in held if g.name not in by_name]
        if missing:
            tree.problems.append(f"{path}: groups {', '.join(missing)} are in no target file")
        rebuilt = {"groups": [by_name[g.name] for g in held if g.name in by_name]}
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(dump_yaml(rebuilt, "rebuilt for the tests"), encoding="utf-8")
