"""The rules rendered for prometheus-operator (one PrometheusRule per provider) and for Mimir
(one rule namespace file per provider) ship exactly the groups of the plain rule files, and
`relayops check` runs promtool and the generated tests on the groups those files carry.

Expectations come from the plain rule files (themselves judged by promtool) and from the
Kubernetes naming rules (DNS-1123 names, label syntax) as the Kubernetes documentation states
them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from relayops.cli import main
from relayops.rules.targets import TargetFileError, embedded_groups
from relayops.spec import SpecError, load_specs
from tests.specs_util import copy_specs, edit_yaml

LABELS = {"release": "kube-prometheus-stack", "team.example.com/owner": "relay_sre"}


@pytest.fixture(scope="module")
def specs_dir(tmp_path_factory) -> Path:
    folder = copy_specs(tmp_path_factory.mktemp("targets"))
    edit_yaml(
        folder / "service.yaml",
        lambda d: d.update(prometheus_operator={"namespace": "observability", "labels": LABELS}),
    )
    return folder


def _render(specs_dir: Path, out: Path, *targets: str, check: bool = False) -> int:
    argv = ["render", "--specs", str(specs_dir), "--out", str(out)]
    argv += [arg for t in targets for arg in ("--target", t)]
    return main(argv + (["--check"] if check else []))


@pytest.fixture(scope="module")
def every_target(specs_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    assert _render(specs_dir, out, "prometheus", "prometheus-operator", "mimir") == 0
    return out


def _plain_groups(out: Path, provider: str) -> list[dict]:
    """The groups of the provider's plain rule files, in the order the files are listed."""
    files = ["rules", "slo", "period.rules", "alerts"]
    return [
        group
        for name in files
        for group in yaml.safe_load((out / "prometheus" / f"{provider}.{name}.yml").read_text())[
            "groups"
        ]
    ]


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_a_prometheus_rule_per_provider_holds_exactly_the_plain_groups(every_target, provider):
    document = yaml.safe_load(
        (every_target / f"prometheus-operator/relay-{provider}.yaml").read_text()
    )
    assert document["apiVersion"] == "monitoring.coreos.com/v1"
    assert document["kind"] == "PrometheusRule"
    assert document["metadata"]["name"] == f"relay-{provider}"
    assert document["metadata"]["namespace"] == "observability"
    assert LABELS.items() <= document["metadata"]["labels"].items()
    assert document["spec"]["groups"] == _plain_groups(every_target, provider)


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_a_mimir_namespace_file_per_provider_holds_exactly_the_plain_groups(every_target, provider):
    document = yaml.safe_load((every_target / f"mimir/relay-{provider}.yaml").read_text())
    assert document["namespace"] == f"relay-{provider}"
    assert document["groups"] == _plain_groups(every_target, provider)


def test_render_check_names_a_changed_target_file(specs_dir, every_target, tmp_path, capsys):
    copy = tmp_path / "rendered"
    shutil.copytree(every_target, copy)
    every = ("prometheus", "prometheus-operator", "mimir")
    assert _render(specs_dir, copy, *every, check=True) == 0
    path = copy / "mimir/relay-gmail.yaml"
    path.write_text(path.read_text().replace("> 14.4", "> 144", 1))
    capsys.readouterr()
    assert _render(specs_dir, copy, *every, check=True) == 1
    assert f"drift: {path}" in capsys.readouterr().err


def test_check_runs_the_generated_tests_on_the_groups_a_prometheus_rule_ships(
    specs_dir, tmp_path, capsys
):
    out = tmp_path / "rendered"
    assert _render(specs_dir, out, "prometheus-operator") == 0
    assert not (out / "prometheus").exists() and (out / "tests").is_dir()
    check = [
        "check",
        "--specs",
        str(specs_dir),
        "--out",
        str(out),
        "--target",
        "prometheus-operator",
    ]
    assert main(check) == 0
    said = capsys.readouterr().out
    assert "test rules" in said and "extracted/prometheus-operator/relay-gmail.yaml" in said

    shipped = out / "prometheus-operator/relay-gmail.yaml"
    shipped.write_text(shipped.read_text().replace("> 14.4", "> 144", 1))
    assert main(check) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.endswith("# FAILED")]
    assert any("gmail.slo-1m.test.yml" in line for line in failed), failed


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(kind="PrometheusRules"), "kind is 'PrometheusRules'"),
        (lambda d: d.update(apiVersion="monitoring.coreos.com/v2"), "apiVersion"),
        (lambda d: d["metadata"].update(name="relay_gmail"), "metadata.name"),
        (lambda d: d["metadata"].update(name="-relay"), "metadata.name"),
        (lambda d: d["metadata"].update(namespace="Monitoring"), "metadata.namespace"),
        (lambda d: d["metadata"].update(namespace="a" * 64), "metadata.namespace"),
        (lambda d: d["metadata"]["labels"].update({"-bad": "x"}), "label key '-bad'"),
        (lambda d: d["metadata"]["labels"].update({"ok": "a" * 64}), "label ok"),
        (lambda d: d["metadata"]["labels"].update({"UPPER.example.com/x": "y"}), "prefix"),
        (lambda d: d["spec"].update(groups=[]), "spec.groups"),
        (lambda d: d.pop("metadata"), "metadata is missing"),
    ],
)
def test_a_broken_prometheus_rule_is_refused_naming_the_field(every_target, change, field):
    document = yaml.safe_load((every_target / "prometheus-operator/relay-gmail.yaml").read_text())
    change(document)
    with pytest.raises(TargetFileError) as caught:
        embedded_groups("prometheus-operator/relay-gmail.yaml", yaml.safe_dump(document))
    assert "prometheus-operator/relay-gmail.yaml: " in str(caught.value)
    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ({"targets": ["prometheus", "prometheus"]}, "prometheus listed twice"),
        ({"targets": []}, "name at least one target"),
        ({"targets": ["thanos"]}, "prometheus-operator"),
        ({"prometheus_operator": {"namespace": "Monitoring"}}, "not a DNS-1123 label"),
        ({"prometheus_operator": {"labels": {"release": "kube prometheus"}}}, "label release"),
    ],
)
def test_bad_targets_in_service_yaml_are_refused_naming_the_field(tmp_path, service, message):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "service.yaml", lambda d: d.update(service))
    with pytest.raises(SpecError) as caught:
        load_specs(folder)
    [issue] = [str(i) for i in caught.value.issues]
    assert "service.yaml" in issue and message in issue


def test_a_mimir_file_is_read_by_its_own_shape(every_target):
    """A namespace file's groups are its top-level `groups`, whatever other keys it carries;
    one without a namespace or groups is refused naming what is missing."""
    document = yaml.safe_load((every_target / "mimir/relay-gmail.yaml").read_text())
    groups = embedded_groups("mimir/relay-gmail.yaml", yaml.safe_dump({**document, "spec": 1}))
    assert groups == document["groups"]
    with pytest.raises(TargetFileError) as caught:
        embedded_groups("mimir/relay-gmail.yaml", yaml.safe_dump({"groups": []}))
    assert "namespace is missing" in str(caught.value) and "groups must be" in str(caught.value)
