"""<Provider>RolloutControllerFailing: the failed share of the rollout controller's runs above a
level."""

from __future__ import annotations

from relayops.promql import Expr
from relayops.rules.alert_def import AlertDef
from relayops.rules.build import above, div, sel, sum_rate
from relayops.rules.builder import AlertBuilder
from relayops.rules.kind import Kind, RuleGroup
from relayops.rules.measure import Events, Share
from relayops.rules.triage import Step, Triage
from relayops.spec.durations import format_duration
from relayops.spec.labels import PROVIDER
from relayops.spec.metrics import Role
from relayops.spec.units import Unit
from relayops.spec.units import percent as pct

FAILURE = "failure"  # the controller runs' status label value of a failed run


def failed_share(runs: str, provider: str, window: int) -> Expr:
    match = {PROVIDER: provider}
    return div(
        sum_rate(sel(runs, match, status=FAILURE), window, (PROVIDER,)),
        sum_rate(sel(runs, match), window, (PROVIDER,)),
    )


class ControllerFailing(Kind):
    name = "controller_failing"
    unit = Unit.RATIO
    group = RuleGroup.OPERATIONS
    topic = "controller"

    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        levels = build.spec.thresholds.controller_failing
        runs = build.specs.metric(Role.CONTROLLER_RUNS)
        window = levels.window
        d = build.spec.display_name
        return [
            build.single(
                self,
                f"{d}RolloutControllerFailing",
                "warning",
                above(failed_share(runs.name, build.spec.provider, window), levels.failure_ratio),
                Share(Events.of(runs, status=FAILURE), Events.of(runs), window),
                "failed share of controller runs",
                levels.for_,
                "controller",
                f"{d} rollout controller runs are failing.",
                f"{{{{ $value | humanizePercentage }}}} of rollout controller runs for "
                f"{{{{ $labels.provider }}}} failed over the last {format_duration(window)} "
                f"(warning above {pct(levels.failure_ratio)}).",
                "controller",
                level=levels.failure_ratio,
            )
        ]

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        window = steps.spec.thresholds.controller_failing.window
        share = failed_share(steps.metric(Role.CONTROLLER_RUNS), steps.spec.provider, window)
        return [
            Step(
                f"Failed share of controller runs over {format_duration(window)}",
                share.render(),
                "The quantity the alert compares with its level.",
            ),
            steps.controller_runs(),
            steps.controller_age(),
            *steps.rollout(),
        ]


KIND = ControllerFailing()
