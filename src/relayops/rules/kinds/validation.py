"""<Provider>ValidationErrorSpike: the share of requests rejected by validation before anything
is sent, above a level."""

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

SOURCE = "validation"  # the structured errors' source label value for validation


class Validation(Kind):
    name = "validation"
    unit = Unit.RATIO
    topic = "structured_errors"

    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        levels = build.spec.thresholds.validation_error_ratio
        requests = build.events(Role.REQUESTS)
        reading = Reading(
            sel(build.names.structured_source_ratio(SOURCE), build.match),
            Share(build.events(Role.STRUCTURED_ERRORS, source=SOURCE), requests, build.rate_window),
            "share of requests rejected by validation",
            build.request_guard(levels.min_request_rate),
        )
        d = build.spec.display_name
        return build.leveled(
            self,
            f"{d}ValidationErrorSpike",
            reading,
            levels,
            "validation",
            f"{d} requests are failing validation.",
            lambda sev, lvl: (
                f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.action }}}} requests were "
                f"rejected by validation over the last {build.window} ({sev} above {pct(lvl)} of "
                "traffic)."
            ),
        )

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        return [
            steps.now(
                "Validation rejections as a share of traffic",
                steps.names.structured_source_ratio(SOURCE),
            ),
            Step(
                "Validation rejections by code",
                sel(steps.names.structured_error_rate, steps.match, source=SOURCE).render(),
                "One code dominating usually means one caller or one new rule.",
            ),
            steps.traffic(),
            *steps.rollout(),
        ]


KIND = Validation()
