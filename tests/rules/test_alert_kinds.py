"""The alert kinds: every kind has what the renderers ask of it, levels are written in their
kind's unit, and each alert sits in its kind's rule group of the committed rule files."""

from __future__ import annotations

import pytest
import yaml

from relayops.rules.alert_def import level_text
from relayops.rules.alerts import alert_defs
from relayops.rules.kinds import CATALOGUE
from relayops.spec.units import Unit
from tests.specs_util import REPO

TEMPLATES = REPO / "src" / "relayops" / "runbooks" / "templates"


@pytest.mark.parametrize(
    ("unit", "value", "written"),
    [
        (Unit.RATIO, 0.01, "1%"),
        (Unit.RATIO, 0.001, "0.1%"),
        (Unit.SECONDS, 0.5, "500ms"),
        (Unit.SECONDS, 2.0, "2s"),
        (Unit.DURATION, 1800, "30m"),
        (Unit.DURATION, 5400, "90m"),
        (Unit.NUMBER, 0.5, "0.5"),
        (Unit.NUMBER, 20, "20"),
    ],
)
def test_a_level_is_written_in_its_unit(unit, value, written) -> None:
    assert unit.text(value) == written


@pytest.mark.parametrize("kind", CATALOGUE, ids=str)
def test_every_kind_has_a_runbook_template(kind) -> None:
    assert (TEMPLATES / kind.runbook_template).is_file()


def test_every_runbook_template_is_of_a_kind() -> None:
    names = {p.name for p in TEMPLATES.glob("kind_*.md.j2")}
    assert names == {kind.runbook_template for kind in CATALOGUE}


def test_the_shipped_alerts_write_their_levels_as_the_readme_reads(specs) -> None:
    """As the spec model documents its defaults (error ratio 1% / 5%, p95 latency 0.5 s / 2 s,
    the controller stalled after 30 minutes), written in each kind's unit."""
    levels = {
        (a.name, a.severity): level_text(a)
        for a in alert_defs(specs, specs.provider("gmail"))
        if a.level is not None
    }
    assert levels[("GmailErrorRatioHigh", "warning")] == "1%"
    assert levels[("GmailErrorRatioHigh", "critical")] == "5%"
    assert levels[("GmailLatencyHigh", "warning")] == "500ms"
    assert levels[("GmailLatencyHigh", "critical")] == "2s"
    assert levels[("GmailRolloutControllerStalled", "warning")] == "30m"


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_each_alert_is_in_its_kinds_group_of_the_committed_rules(specs, provider) -> None:
    group_of = {
        rule["alert"]: group["name"].split(f"relay-{provider}-")[1].removesuffix(".alerts")
        for path in (REPO / "rendered" / "prometheus").glob(f"{provider}.*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    defs = alert_defs(specs, specs.provider(provider))
    assert {a.name: str(a.kind.group) for a in defs} == group_of
    # burn tiers page through the SLO group; the operations group is about the pipeline itself
    assert {a.name for a in defs if a.is_burn} == {
        name for name, group in group_of.items() if group == "slo"
    }


def test_a_kind_is_its_name() -> None:
    """Kinds compare and hash as their names, as the string kinds before them did, so that a
    comparison with a name can never be silently false."""
    burn, error_ratio = CATALOGUE[0], CATALOGUE[1]
    assert burn == "burn" and error_ratio != "burn" and str(error_ratio) == "error_ratio"
    assert {burn: 1}["burn"] == 1 and "error_ratio" in set(CATALOGUE)
