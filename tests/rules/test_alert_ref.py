"""An alert's identity (`Name/burn_tier` or `Name/severity`) is made in one place,
`relayops.rules.alerts.alert_ref`, and the identities of the alert definitions are those of
the rules as rendered (read back from the committed YAML, not from the builder)."""

from __future__ import annotations

import pytest
import yaml

from relayops.rules.alert_def import alert_ref
from relayops.rules.alerts import alert_defs
from relayops.spec import SpecSet
from tests.specs_util import REPO

RENDERED = REPO / "rendered" / "prometheus"


BURN = {
    "alertname": "GmailAvailabilityBudgetBurn",
    "burn_tier": "page_fast",
    "severity": "critical",
}
LEVEL = {"alertname": "GmailErrorRatioHigh", "severity": "warning"}
EMPTY_TIER = {"alertname": "X", "burn_tier": "", "severity": "info"}


@pytest.mark.parametrize(
    ("labels", "ref"),
    [
        (BURN, "GmailAvailabilityBudgetBurn/page_fast"),
        (LEVEL, "GmailErrorRatioHigh/warning"),
        (EMPTY_TIER, "X/info"),
    ],
)
def test_alert_ref(labels: dict[str, str], ref: str) -> None:
    assert alert_ref(labels) == ref


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_definitions_are_named_as_the_rendered_rules(specs: SpecSet, provider: str) -> None:
    rendered = [
        alert_ref({"alertname": rule["alert"], **rule["labels"]})
        for path in RENDERED.glob(f"{provider}.*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    defs = alert_defs(specs, specs.provider(provider))
    assert sorted(d.ref for d in defs) == sorted(rendered)
    assert len(set(rendered)) == len(rendered)
    for definition in defs:
        expected = definition.tier.name if definition.tier else definition.severity
        assert definition.ref == f"{definition.name}/{expected}"
