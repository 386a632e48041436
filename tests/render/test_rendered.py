"""The rendered rules, alerts and tests: current, conventional, and proven by promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from relayops.cli import main
from relayops.render import MANAGED, readme_sections, render_all
from relayops.render.readme import with_sections
from relayops.spec import load_specs
from tests.specs_util import REPO, SPECS, copy_specs, edit_yaml

RENDERED = REPO / "rendered"


@pytest.fixture(scope="module")
def rendered():
    return render_all(load_specs(SPECS), Path("specs"))


def alerts_of(text: str) -> list[dict]:
    return [r for g in yaml.safe_load(text)["groups"] for r in g["rules"] if "alert" in r]


def test_committed_output_is_what_render_produces(rendered, amtool):
    on_disk = {
        p.relative_to(RENDERED).as_posix(): p.read_text()
        for folder in MANAGED
        for p in sorted((RENDERED / folder).rglob("*"))
        if p.is_file()
    }
    assert sorted(on_disk) == sorted(rendered.files), "run `make render` and commit"
    for rel, text in rendered.files.items():
        assert on_disk[rel] == text, f"rendered/{rel} is stale: run `make render`"
    readme = (REPO / "README.md").read_text()
    sections = readme_sections(load_specs(SPECS), rendered, amtool)
    assert with_sections(readme, sections) == readme, "README generated sections are stale"


def test_every_alert_follows_the_conventions(rendered):
    alerts = [
        a
        for rel, text in rendered.files.items()
        if rel.startswith("prometheus/")
        for a in alerts_of(text)
    ]
    assert len(alerts) > 30
    for alert in alerts:
        name = alert["alert"]
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name)
        labels, notes = alert["labels"], alert["annotations"]
        assert labels["severity"] in {"critical", "warning", "info"}, name
        assert {"service", "provider", "component", "team"} <= set(labels), name
        assert set(notes) == {"summary", "description", "runbook_url", "dashboard_url"}, name
        assert "{{" not in notes["summary"] and notes["summary"][0].isupper(), name
        assert notes["summary"].endswith("."), name
        assert "{{ $labels." in notes["description"], name
        if not alert["expr"].startswith("absent("):
            assert "{{ $value | humanize" in notes["description"], name
        anchor = labels.get("burn_tier", labels["severity"])
        assert notes["runbook_url"].endswith(f"/{name}.md#{anchor}"), name
        assert "$value" not in "".join(labels.values()), name
    severities = {a["labels"]["severity"] for a in alerts}
    assert severities == {"critical", "warning", "info"}


def test_guarded_alerts_show_the_quantity_not_the_traffic(rendered):
    text = rendered.files["prometheus/gmail.alerts.yml"]
    [warning] = [
        a
        for a in alerts_of(text)
        if a["alert"] == "GmailErrorRatioHigh" and a["labels"]["severity"] == "warning"
    ]
    quantity, operator, guard = warning["expr"].split("\n")
    assert quantity.startswith("provider_action:action_exec_error:ratio_rate5m{")
    assert quantity.endswith("} > 0.01")
    assert operator == "and on (provider, action)"
    assert guard.startswith("provider_action:action_exec:rate5m{") and guard.endswith("} > 0.1")
    assert all("clamp_min" not in text for text in rendered.files.values())


def test_burn_alerts_fire_within_one_test_step_of_theory(rendered):
    detections = [(s, o) for s, o in rendered.outcomes if s.detection is not None]
    assert len(detections) == 2 * 2 * 8  # providers × SLOs × (4 outage, 3 at 10×, 1 at 2×)
    for scenario, outcome in detections:
        _, theory = scenario.detection
        step = scenario.timeline.step
        assert theory <= outcome.fired_at <= theory + step, scenario.name


def test_relayops_check_passes_on_the_committed_tree(promtool, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert main(["check"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "promtool check rules --lint-fatal" in out
    assert out.count("promtool test rules") == len(list((RENDERED / "tests").glob("*.yml")))


def test_a_threshold_change_moves_the_rule_and_its_test_together(promtool, tmp_path):
    specs = copy_specs(tmp_path)
    edit_yaml(
        specs / "gmail.yaml",
        lambda d: d.setdefault("thresholds", {}).update(
            error_ratio={"warning": 0.02, "critical": 0.05, "for": "5m"}
        ),
    )
    out = tmp_path / "rendered"
    assert main(["render", "--specs", str(specs), "--out", str(out)]) == 0
    [warning] = [
        a
        for a in alerts_of((out / "prometheus/gmail.alerts.yml").read_text())
        if a["alert"] == "GmailErrorRatioHigh" and a["labels"]["severity"] == "warning"
    ]
    assert "} > 0.02\nand on (provider, action)\n" in warning["expr"]
    [test_file] = [
        path.relative_to(out).as_posix()
        for path in (out / "tests").glob("gmail.*.test.yml")
        if "GmailErrorRatioHigh warning" in path.read_text()
    ]
    new_test = (out / test_file).read_text()
    assert "warning above 2%" in new_test and "warning above 1%" not in new_test
    result = subprocess.run(
        [promtool, "test", "rules", out / test_file], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    shutil.copy(RENDERED / test_file, out / test_file)
    stale = subprocess.run(
        [promtool, "test", "rules", out / test_file], capture_output=True, text=True, check=False
    )
    assert stale.returncode == 1
    assert "GmailErrorRatioHigh" in stale.stderr


def test_without_the_traffic_guard_low_traffic_would_page(tmp_path, capsys):
    specs = copy_specs(tmp_path)

    def no_guard(data):
        data["slos"][0]["tiers"] = [
            {
                "name": "page_fast",
                "severity": "critical",
                "long_window": "1h",
                "short_window": "5m",
                "budget_consumed": 0.02,
                "for": "2m",
                "min_events": 1,
            }
        ]

    edit_yaml(specs / "gmail.yaml", no_guard)
    out = tmp_path / "rendered"
    assert main(["render", "--specs", str(specs), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "low traffic: 1 failed and 1 slow request of 3 an hour page nobody: fires" in err
    assert not out.exists()
