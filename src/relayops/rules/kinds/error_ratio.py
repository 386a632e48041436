"""<Provider>ErrorRatioHigh: the share of a provider's send requests that fail, above a level,
while traffic is above the guard: a sharp failure pages within minutes, whatever the budget."""

from __future__ import annotations

from relayops.rules.alert_def import AlertDef, Reading
from relayops.rules.build import sel
from relayops.rules.builder import AlertBuilder
from relayops.rules.kind import Kind
from relayops.rules.measure import Share
from relayops.rules.triage import Step, Triage
from relayops.spec.metrics import Role
from relayops.spec.units import Unit
from relayops.spec.units import percent as pct


class ErrorRatio(Kind):
    name = "error_ratio"
    unit = Unit.RATIO
    topic = "availability"

    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        levels = build.spec.thresholds.error_ratio
        requests = build.events(Role.REQUESTS)
        reading = Reading(
            sel(build.names.outcome_ratio("error"), build.match),
            Share(build.events(Role.REQUESTS, status="error"), requests, build.rate_window),
            "error ratio",
            build.request_guard(levels.min_request_rate),
        )
        d = build.spec.display_name
        return build.leveled(
            self,
            f"{d}ErrorRatioHigh",
            reading,
            levels,
            "send_path",
            f"{d} send requests are failing.",
            lambda sev, lvl: (
                f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.action }}}} requests "
                f"failed over the last {build.window} ({sev} above {pct(lvl)}, judged only "
                f"above {levels.min_request_rate:g} req/s)."
            ),
        )

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        ratio = steps.names.outcome_ratio("error")
        return [
            steps.now("Error ratio now", ratio),
            steps.traffic(),
            steps.reasons(),
            steps.top_codes(),
            steps.all_providers(ratio, "Error ratio"),
            *steps.rollout(),
        ]


KIND = ErrorRatio()
