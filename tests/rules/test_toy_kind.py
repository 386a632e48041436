"""Adding an alert kind is one module plus its runbook template. A toy kind written here and
nowhere else (the share of requests refused before sending, read from series the recording
rules already write), with its template, and registered as `rules/kinds/__init__.py` would
list it, gets rules promtool accepts, a generated promtool test the real promtool passes, a
runbook page with its triage, and synth expectations: nothing else in relayops changes."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

import relayops.rules.alerts as alerts_module
import relayops.runbooks.render as runbooks_render
from relayops.promql import Aggregate
from relayops.render import render_all
from relayops.rules.alert_def import AlertDef, Reading
from relayops.rules.build import div, sel
from relayops.rules.builder import AlertBuilder
from relayops.rules.kind import Kind
from relayops.rules.kinds import CATALOGUE
from relayops.rules.measure import Share
from relayops.rules.triage import Step, Triage
from relayops.spec.labels import SEND_KEYS
from relayops.spec.metrics import Role
from relayops.spec.thresholds import Levels
from relayops.spec.units import Unit
from relayops.spec.units import percent as pct
from relayops.synth.scenarios import scenarios
from tests.specs_util import SPECS


class RejectedShare(Kind):
    name = "rejected_share"
    unit = Unit.RATIO
    topic = "structured_errors"

    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        requests = build.events(Role.REQUESTS)
        rate = sel(build.names.request_rate, build.match)
        refused = sel(build.names.request_rate_by_status, build.match, status="rejected")
        reading = Reading(
            div(Aggregate("sum", refused, SEND_KEYS), rate),
            Share(build.events(Role.REQUESTS, status="rejected"), requests, build.rate_window),
            "share of requests refused",
            build.request_guard(0.1),
        )
        d = build.spec.display_name
        return build.leveled(
            self,
            f"{d}RejectedShareHigh",
            reading,
            Levels.model_validate({"warning": 0.15, "for": "5m"}),
            "send_path",
            f"{d} refuses many requests.",
            lambda sev, lvl: (
                f"{{{{ $value | humanizePercentage }}}} refused ({sev} above {pct(lvl)})"
            ),
        )

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        return [steps.traffic(), *steps.rollout()]


TEMPLATE = """{% extends "runbook.md.j2" %}
{% block meaning %}
Requests refused before anything is sent, as a share of all requests.
{% endblock %}
{% block mitigation %}
1. Find the caller whose requests are refused.
{% endblock %}
"""


@pytest.fixture
def toy_kind(monkeypatch, tmp_path):
    monkeypatch.setattr(alerts_module, "CATALOGUE", (*CATALOGUE, RejectedShare()))
    templates = tmp_path / "templates"
    shutil.copytree(runbooks_render.TEMPLATES, templates)
    (templates / "kind_rejected_share.md.j2").write_text(TEMPLATE)
    monkeypatch.setattr(runbooks_render, "TEMPLATES", templates)


def test_a_kind_in_one_module_renders_and_passes_promtool(specs, toy_kind, tmp_path, promtool):
    rendered = render_all(specs, SPECS)
    out = tmp_path / "rendered"
    for path, text in rendered.files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text)

    groups = yaml.safe_load(rendered.files["prometheus/gmail.alerts.yml"])["groups"]
    send_path = next(g for g in groups if g["name"] == "relay-gmail-send-path.alerts")
    toy = [r for r in send_path["rules"] if r["alert"] == "GmailRejectedShareHigh"]
    assert [r["labels"]["severity"] for r in toy] == ["warning"]
    check = [promtool, "check", "rules", str(out / "prometheus/gmail.alerts.yml")]
    assert subprocess.run(check, capture_output=True, text=True).returncode == 0

    [suite] = [
        suite
        for path, text in rendered.files.items()
        if path.startswith("tests/gmail.")
        for suite in [yaml.safe_load(text)]
        if any(t["name"].startswith("GmailRejectedShareHigh") for t in suite["tests"])
    ]
    suite["tests"] = [t for t in suite["tests"] if t["name"].startswith("GmailRejectedShareHigh")]
    assert len(suite["tests"]) == 1, "one generated scenario: silent under, fires above, resolves"
    fires = [c for c in suite["tests"][0]["alert_rule_test"] if c["exp_alerts"]]
    assert fires, "the generated test expects the alert to fire somewhere"
    only_toy = out / "tests" / "toy.test.yml"
    only_toy.write_text(yaml.safe_dump(suite, sort_keys=False))
    run = subprocess.run(
        [promtool, "test", "rules", only_toy.name],
        cwd=only_toy.parent,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr

    page = rendered.files["runbooks/GmailRejectedShareHigh.md"]
    assert "Requests refused before anything is sent" in page
    assert "Traffic by status" in page and "share of requests refused over 5m above 15%" in page


def test_synth_expects_the_new_kind_where_its_measure_crosses(specs, toy_kind):
    """Validation rejections at twice the validation level (10%) refuse 20% of requests, above
    the toy's 15%; healthy traffic refuses a tenth of that."""
    catalog = scenarios(specs)
    assert "GmailRejectedShareHigh/warning" in catalog["validation-spike"].plans["gmail"].fires
    assert "GmailRejectedShareHigh/warning" in catalog["healthy"].plans["gmail"].silent
