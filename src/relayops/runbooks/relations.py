"""Which alerts silence which, read from the generated Alertmanager inhibit rules, and which
alerts tell a related story."""

from __future__ import annotations

from relayops.alertmanager.inhibition import InhibitRule, inhibit_rules
from relayops.alertmanager.labels import firing_alerts
from relayops.alertmanager.matchers import match_all
from relayops.rules.alert_def import AlertDef
from relayops.spec import SpecSet
from relayops.spec.labels import PROVIDER


def _key(provider: str, name: str, anchor: str) -> tuple[str, str, str]:
    return provider, name, anchor


class Inhibition:
    """The inhibit rules of the Alertmanager config, applied to the labels alerts fire with."""

    def __init__(self, specs: SpecSet):
        self.rules = inhibit_rules(specs)
        actions = {spec.provider: spec.action for spec in specs.providers}
        self.labels = {
            _key(a.provider, a.definition.name, a.definition.anchor): a.runtime(actions[a.provider])
            for a in firing_alerts(specs)
        }

    def _labels(self, alert: AlertDef) -> dict[str, str]:
        return self.labels[_key(alert.rule.labels[PROVIDER], alert.name, alert.anchor)]

    def silences(self, source: AlertDef, target: AlertDef) -> bool:
        """Whether `source`, while firing, silences `target`."""
        if source is target:
            return False
        src, tgt = self._labels(source), self._labels(target)
        return any(rule.silences(src, tgt) for rule in self.rules)

    def involving(self, alerts: list[AlertDef]) -> list[InhibitRule]:
        """The rules in which any of `alerts` is a source or a target."""
        labels = [self._labels(a) for a in alerts]
        return [
            rule
            for rule in self.rules
            if any(match_all(rule.source, lb) or match_all(rule.target, lb) for lb in labels)
        ]


def topic(alert: AlertDef) -> str | None:
    """What the alert watches, so that alerts on the same thing can point at each other."""
    return alert.kind.topic_of(alert)


def same_subject(a: AlertDef, b: AlertDef) -> bool:
    """The same alert on another provider: same kind and same SLO or signal name."""
    return (
        a.kind == b.kind
        and (a.slo.name if a.slo else None) == (b.slo.name if b.slo else None)
        and (a.signal.name if a.signal else None) == (b.signal.name if b.signal else None)
    )
