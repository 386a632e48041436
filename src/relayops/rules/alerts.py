"""Alerting rules of one provider: every kind's alerts, in the catalogue's order, and the rule
groups they are written in."""

from __future__ import annotations

from relayops.rules.alert_def import AlertDef
from relayops.rules.build import Group
from relayops.rules.builder import AlertBuilder
from relayops.rules.kind import RuleGroup
from relayops.rules.kinds import CATALOGUE
from relayops.spec import SpecSet
from relayops.spec.provider import ProviderSpec


def alert_defs(specs: SpecSet, spec: ProviderSpec) -> list[AlertDef]:
    """Every alert of a provider, in rendering order."""
    build = AlertBuilder(specs, spec)
    return [alert for kind in CATALOGUE for alert in kind.alerts(build)]


def alert_groups(specs: SpecSet, spec: ProviderSpec) -> list[Group]:
    """The alert groups of a provider, one per RuleGroup, in RuleGroup order."""
    prefix = f"{specs.service.service}-{spec.name}"
    defs = alert_defs(specs, spec)
    return [
        Group(f"{prefix}-{group}.alerts", tuple(a.rule for a in defs if a.kind.group is group))
        for group in RuleGroup
    ]
