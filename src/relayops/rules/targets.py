"""The rendered rules as each target of service.yaml wants them, and the checks of a file that
claims to be one.

`prometheus-operator` and `mimir` embed exactly the groups of the plain rule files, in the
files' order: a `PrometheusRule` holds them under `spec.groups`, a Mimir namespace file beside
its `namespace`. `relayops check` takes them back out (`embedded_groups`) to run promtool on
them and compare them with the plain files.
"""

from __future__ import annotations

from collections.abc import Callable

import yaml

from relayops.rules.build import Group
from relayops.rules.layout import rule_files
from relayops.rules.output import dump_yaml, group_entries, rule_file
from relayops.spec import SpecSet
from relayops.spec.provider import ProviderSpec
from relayops.spec.targets import (
    Target,
    dns_label_problem,
    dns_subdomain_problem,
    kubernetes_name,
    label_key_problem,
    label_value_problem,
)

OPERATOR_API = "monitoring.coreos.com/v1"
OPERATOR_KIND = "PrometheusRule"
OPERATOR_FOLDER = "prometheus-operator"
MIMIR_FOLDER = "mimir"
TARGET_FOLDERS = ("prometheus", OPERATOR_FOLDER, MIMIR_FOLDER)


def object_name(specs: SpecSet, spec: ProviderSpec) -> str:
    """The PrometheusRule's name and the Mimir namespace: relay-gmail."""
    return kubernetes_name(specs.service.service, spec.name)


def target_path(target: Target, specs: SpecSet, spec: ProviderSpec) -> str:
    """Where an embedding target's file of the provider is written."""
    folder = OPERATOR_FOLDER if target == "prometheus-operator" else MIMIR_FOLDER
    return f"{folder}/{object_name(specs, spec)}.yaml"


def prometheus_rule(specs: SpecSet, spec: ProviderSpec, groups: list[Group]) -> dict:
    operator = specs.service.prometheus_operator
    labels = {
        "app.kubernetes.io/name": "relayops",
        "app.kubernetes.io/part-of": kubernetes_name(specs.service.service),
        **operator.labels,
    }
    return {
        "apiVersion": OPERATOR_API,
        "kind": OPERATOR_KIND,
        "metadata": {
            "name": object_name(specs, spec),
            "namespace": operator.namespace,
            "labels": labels,
        },
        "spec": {"groups": group_entries(groups)},
    }


def mimir_namespace(specs: SpecSet, spec: ProviderSpec, groups: list[Group]) -> dict:
    return {"namespace": object_name(specs, spec), "groups": group_entries(groups)}


def target_files(
    specs: SpecSet, spec: ProviderSpec, targets: tuple[Target, ...], header: str
) -> dict[str, str]:
    """The provider's rule files of every target, by path relative to the output folder."""
    layout = rule_files(specs, spec)
    groups = [g for held in layout.values() for g in held]  # every file's, in the files' order
    files: dict[str, str] = {}
    for target in targets:
        if target == "prometheus":
            for path, held in layout.items():
                files[path] = rule_file(held, header)
        elif target == "prometheus-operator":
            files[target_path(target, specs, spec)] = dump_yaml(
                prometheus_rule(specs, spec, groups), header
            )
        else:
            files[target_path(target, specs, spec)] = dump_yaml(
                mimir_namespace(specs, spec, groups), header
            )
    return files


class TargetFileError(ValueError):
    """A target file that is not what it claims to be; the message names the file and field."""


def embedded_groups(path: str, text: str) -> list[dict]:
    """The rule groups of a PrometheusRule or Mimir namespace file, after its structural check
    (TargetFileError naming every problem)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TargetFileError(f"{path}: not YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise TargetFileError(f"{path}: expected a mapping at the top")
    operator = path.startswith(f"{OPERATOR_FOLDER}/")
    problems = (_operator_problems if operator else _mimir_problems)(document)
    if problems:
        raise TargetFileError(f"{path}: " + "; ".join(problems))
    return document["spec"]["groups"] if operator else document["groups"]


def _groups_problem(groups: object, field: str) -> str | None:
    if not isinstance(groups, list) or not groups:
        return f"{field} must be a non-empty list of rule groups"
    if not all(isinstance(g, dict) and isinstance(g.get("name"), str) for g in groups):
        return f"{field}: every group needs a name"
    return None


def _operator_problems(document: dict) -> list[str]:
    problems = []
    if document.get("apiVersion") != OPERATOR_API:
        problems.append(f"apiVersion is {document.get('apiVersion')!r}, expected {OPERATOR_API}")
    if document.get("kind") != OPERATOR_KIND:
        problems.append(f"kind is {document.get('kind')!r}, expected {OPERATOR_KIND}")
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return [*problems, "metadata is missing"]
    checks: list[tuple[str, Callable[[str], str | None]]] = [
        ("name", dns_subdomain_problem),
        ("namespace", dns_label_problem),
    ]
    for field, problem_of in checks:
        value = metadata.get(field)
        problem = problem_of(value) if isinstance(value, str) else "missing"
        if problem:
            problems.append(f"metadata.{field}: {problem}")
    labels = metadata.get("labels", {})
    if not isinstance(labels, dict):
        problems.append("metadata.labels must be a mapping")
    else:
        for key, value in labels.items():
            problem = label_key_problem(str(key)) or (
                label_value_problem(str(key), value)
                if isinstance(value, str)
                else f"label {key}: value must be a string"
            )
            if problem:
                problems.append(f"metadata.labels: {problem}")
    spec = document.get("spec")
    groups_problem = _groups_problem(
        spec.get("groups") if isinstance(spec, dict) else None, "spec.groups"
    )
    return problems + ([groups_problem] if groups_problem else [])


def _mimir_problems(document: dict) -> list[str]:
    problems = []
    namespace = document.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        problems.append("namespace is missing")
    groups_problem = _groups_problem(document.get("groups"), "groups")
    return problems + ([groups_problem] if groups_problem else [])
