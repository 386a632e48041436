"""An adapter emits every metric its provider's rendered rules read, with the same labels."""

from __future__ import annotations

import re

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from relayops.adapters.telemetry import adapter_metrics, emitted_keys
from relayops.spec.metrics import Role
from tests.specs_util import REPO

CONTROLLER_ROLES = {
    Role.CONTROLLER_LAST_SUCCESS,
    Role.CONTROLLER_RUNS,
    Role.CONTROLLER_DECISIONS,
    Role.CONTROLLER_PERCENT,
    Role.CONTROLLER_ERRORS,
}
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def referenced_keys(specs, provider: str) -> set[str]:
    """Catalog keys whose series the provider's rendered rules and alerts read."""
    series = {}
    for key, metric in specs.service.metrics.items():
        for suffix in ("", "_bucket", "_count", "_sum"):
            series[metric.name + suffix] = key
    keys = set()
    for kind in ("rules", "alerts"):
        path = REPO / "rendered" / "prometheus" / f"{provider}.{kind}.yml"
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                keys |= {series[n] for n in NAME.findall(rule["expr"]) if n in series}
    return keys


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_every_metric_the_rules_read_is_emitted_with_its_labels(specs, provider):
    spec = specs.provider(provider)
    read = referenced_keys(specs, provider) - CONTROLLER_ROLES
    assert read and read <= set(emitted_keys(spec)), read - set(emitted_keys(spec))
    exposed = text_string_to_metric_families(
        generate_latest(adapter_metrics(specs, spec).registry).decode()
    )
    families = {f.name: f for f in exposed}
    for key in read:
        metric = specs.service.metrics[key]
        family = families[metric.name.removesuffix("_total")]
        suffix = (
            "_bucket"
            if metric.type == "histogram"
            else ("_total" if metric.type == "counter" else "")
        )
        samples = [
            s for s in family.samples if s.name == metric.name.removesuffix("_total") + suffix
        ]
        assert samples, f"{metric.name} has no series at start"
        wanted = set(metric.labels) | ({"le"} if metric.type == "histogram" else set())
        assert all(set(s.labels) == wanted for s in samples), (metric.name, samples[0].labels)
        assert {s.labels["provider"] for s in samples} == {spec.provider}
        for label, values in metric.values.items():
            assert {s.labels[label] for s in samples} == set(values)


def test_gmail_and_outlook_emit_their_own_build_histograms(specs):
    gmail = emitted_keys(specs.provider("gmail"))
    outlook = emitted_keys(specs.provider("outlook"))
    assert "mime_build" in gmail and "graph_payload_build" not in gmail
    assert {"graph_payload_build", "upload_sessions", "oauth_refresh"} <= set(outlook)
