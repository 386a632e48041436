"""Inhibit rules generated from the alert set, and which alert they let silence which.

Every rule names its sources and targets by alertname, lists disjoint source and target
matchers (so no alert can silence itself) and requires `equal` labels that both sides carry,
because Alertmanager treats a label missing on both sides as equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from relayops.alertmanager.labels import CONTROLLER, TELEMETRY, FiringAlert, firing_alerts
from relayops.alertmanager.matchers import Matcher, equals, match_all, one_of
from relayops.spec import SpecSet
from relayops.spec.labels import SEND_KEYS

RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class InhibitRule:
    reason: str
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    def config(self) -> dict:
        return {
            "source_matchers": [m.render() for m in self.source],
            "target_matchers": [m.render() for m in self.target],
            "equal": list(self.equal),
        }

    def silences(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        """Alertmanager's test: both sides match and every `equal` label has one value."""
        return (
            match_all(self.source, source)
            and match_all(self.target, target)
            and all(source.get(name, "") == target.get(name, "") for name in self.equal)
        )


def _severity_rules(service: str, alerts: list[FiringAlert]) -> list[InhibitRule]:
    """A threshold alert's higher severity silences its own lower one (not burn alerts)."""
    severities: dict[str, set[str]] = defaultdict(set)
    for alert in alerts:
        if not alert.definition.is_burn:
            severities[alert.definition.name].add(alert.definition.severity)
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, present in severities.items():
        for high in present:
            for low in present:
                if RANK[high] > RANK[low]:
                    pairs[high, low].append(name)
    return [
        InhibitRule(
            f"A {high} alert silences the {low} of the same alert, provider and action.",
            (equals("service", service), equals("severity", high), one_of("alertname", names)),
            (equals("service", service), equals("severity", low), one_of("alertname", names)),
            ("alertname", "provider", "action"),
        )
        for (high, low), names in sorted(pairs.items(), key=lambda p: (-RANK[p[0][0]], p[0]))
    ]


def _burn_rules(service: str, alerts: list[FiringAlert]) -> list[InhibitRule]:
    """A faster burn tier silences the slower tiers of the same SLO, never a higher severity."""
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    seen = set()
    for alert in alerts:
        slo, name = alert.definition.slo, alert.definition.name
        if not alert.definition.is_burn or slo is None or name in seen:
            continue
        seen.add(name)
        for i, tier in enumerate(slo.tiers):
            slower = tuple(
                t.name for t in slo.tiers[i + 1 :] if RANK[t.severity] <= RANK[tier.severity]
            )
            if slower:
                grouped[tier.name, slower].append(name)
    return [
        InhibitRule(
            f"Burn tier {tier} silences the slower tiers {', '.join(slower)} of the same SLO, "
            "provider and action.",
            (equals("service", service), one_of("alertname", names), equals("burn_tier", tier)),
            (equals("service", service), one_of("alertname", names), one_of("burn_tier", slower)),
            ("alertname", "provider", "slo", "action"),
        )
        for (tier, slower), names in grouped.items()
    ]


def _missing_rules(service: str, alerts: list[FiringAlert]) -> list[InhibitRule]:
    """A provider's metrics-missing alert silences that provider's send-path symptoms only.

    The controller's alerts come from another job and stay audible; so does every alert of
    another provider (matched by provider on both sides and again through `equal`).
    """
    rules = []
    for provider in dict.fromkeys(a.provider for a in alerts):
        own = [a for a in alerts if a.provider == provider]
        missing = sorted({a.definition.name for a in own if a.component == TELEMETRY})
        symptoms = [a.definition.name for a in own if a.component not in (TELEMETRY, CONTROLLER)]
        if not missing or not symptoms:
            continue
        scope = (equals("service", service), equals("provider", provider))
        rules.append(
            InhibitRule(
                f"{own[0].display_name} metrics missing silences {own[0].display_name}'s "
                "send-path alerts of the same action; not the controller's, not another "
                "provider's.",
                (*scope, one_of("alertname", missing)),
                (*scope, one_of("alertname", symptoms)),
                SEND_KEYS,
            )
        )
    return rules


def inhibit_rules(specs: SpecSet) -> list[InhibitRule]:
    service = specs.service.service
    alerts = firing_alerts(specs)
    return [
        *_severity_rules(service, alerts),
        *_burn_rules(service, alerts),
        *_missing_rules(service, alerts),
    ]


def silencers(
    rules: Sequence[InhibitRule], active: Mapping[str, Mapping[str, str]], target: str
) -> set[str]:
    """Keys of the active alerts that silence `target` (itself never included)."""
    labels = active[target]
    return {
        key
        for key, source in active.items()
        if key != target and any(rule.silences(source, labels) for rule in rules)
    }
