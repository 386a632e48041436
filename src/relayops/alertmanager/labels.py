"""The label sets of every rendered alert, as written in the rules and as they fire."""

from __future__ import annotations

from dataclasses import dataclass

from relayops.rules.alert_def import AlertDef
from relayops.rules.alerts import alert_defs
from relayops.spec import SpecSet

CONTROLLER = "controller"
TELEMETRY = "telemetry"


@dataclass(frozen=True)
class FiringAlert:
    """One rendered alert rule of one provider, with the labels it fires with."""

    provider: str
    display_name: str
    definition: AlertDef

    @property
    def static(self) -> dict[str, str]:
        """alertname plus the rule's own labels: what routing sees."""
        return {"alertname": self.definition.name, **self.definition.rule.labels}

    @property
    def component(self) -> str:
        return self.definition.rule.labels["component"]

    def runtime(self, action: str) -> dict[str, str]:
        """Labels at runtime: provider alerts keep `action` from their series.

        Controller alerts aggregate by provider only, so they carry no `action`.
        """
        if self.component == CONTROLLER:
            return self.static
        return {**self.static, "action": action}

    @property
    def key(self) -> str:
        """Distinct name of the rule: alertname plus burn tier or severity."""
        return self.definition.ref


def firing_alerts(specs: SpecSet) -> list[FiringAlert]:
    """Every alert rule of every provider, in rendering order."""
    return [
        FiringAlert(spec.provider, spec.display_name, definition)
        for spec in specs.providers
        for definition in alert_defs(specs, spec)
    ]


def runtime_labels(specs: SpecSet) -> list[tuple[str, dict[str, str]]]:
    """(rule key, labels as the rule fires) for every rendered alert rule."""
    actions = {spec.provider: spec.action for spec in specs.providers}
    return [(a.key, a.runtime(actions[a.provider])) for a in firing_alerts(specs)]
