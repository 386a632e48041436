"""<Provider>RolloutControllerStalled: the rollout controller has not succeeded for a while, so
the rollout percentage is frozen."""

from __future__ import annotations

from relayops.rules.alert_def import AlertDef
from relayops.rules.build import above
from relayops.rules.builder import AlertBuilder
from relayops.rules.kind import Kind, RuleGroup
from relayops.rules.measure import Age
from relayops.rules.triage import Step, Triage, success_age
from relayops.spec.durations import format_duration
from relayops.spec.metrics import Role
from relayops.spec.units import Unit


class Stalled(Kind):
    name = "stalled"
    unit = Unit.DURATION
    group = RuleGroup.OPERATIONS
    topic = "controller"

    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        levels = build.spec.thresholds.controller_stalled
        last = build.specs.metric(Role.CONTROLLER_LAST_SUCCESS)
        d = build.spec.display_name
        return [
            build.single(
                self,
                f"{d}RolloutControllerStalled",
                "warning",
                above(success_age(last.name, build.spec.provider), levels.max_age),
                Age(last),
                "time since the controller's last successful run",
                levels.for_,
                "controller",
                f"{d} rollout controller has not succeeded recently.",
                f"The rollout controller last succeeded for {{{{ $labels.provider }}}} "
                f"{{{{ $value | humanizeDuration }}}} ago (warning above "
                f"{format_duration(levels.max_age)}); the rollout percentage is frozen.",
                "controller",
                level=levels.max_age,
            )
        ]

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        return [steps.controller_age(), steps.controller_runs(), *steps.rollout()]


KIND = Stalled()
