"""Which rendered rule file holds which of a provider's groups.

The SLO windows and burn alerts have a file of their own, apart from the send-path and signal
rules and alerts, and the period group has another: promtool evaluates every group a test loads
at every step, so each generated test loads only the files holding what its alerts read.
"""

from __future__ import annotations

from relayops.promql.simulate import AlertRule
from relayops.rules.alerts import alert_groups
from relayops.rules.build import Group
from relayops.rules.kind import RuleGroup
from relayops.rules.recording import period_group, rate_groups, slo_windows_group
from relayops.rules.render_paths import rule_paths
from relayops.spec import SpecSet
from relayops.spec.provider import ProviderSpec


def rule_files(specs: SpecSet, spec: ProviderSpec) -> dict[str, list[Group]]:
    """Each rule file of the provider (path relative to the output folder) and its groups."""
    paths = rule_paths(spec.name)
    alerts = dict(zip(RuleGroup, alert_groups(specs, spec), strict=True))
    return {
        paths.recording: rate_groups(specs, spec),
        paths.slo: [slo_windows_group(specs, spec), alerts[RuleGroup.SLO]],
        paths.period: [period_group(specs, spec)],
        paths.alerts: [alerts[RuleGroup.SEND_PATH], alerts[RuleGroup.OPERATIONS]],
    }


def alerts_file(spec: ProviderSpec, group: RuleGroup) -> str:
    """The file holding a provider's alerts of `group`."""
    paths = rule_paths(spec.name)
    return paths.slo if group is RuleGroup.SLO else paths.alerts


def evaluation_order(groups: list[Group]) -> list[Group]:
    """Recording groups before alert groups, each in the given order: the order a test
    evaluates them in, so an alert reads what its recording rules wrote at the same step."""
    alerting = [g for g in groups if any(isinstance(r, AlertRule) for r in g.rules)]
    return [g for g in groups if g not in alerting] + alerting
