"""<Provider>ErrorCodeCardinalityHigh: more distinct structured error codes than the dashboards
show; new codes are new failure modes or taxonomy drift."""

from __future__ import annotations

from relayops.promql import Matcher, Selector
from relayops.rules.alert_def import AlertDef
from relayops.rules.build import above, sel
from relayops.rules.builder import AlertBuilder
from relayops.rules.kind import Kind
from relayops.rules.measure import Distinct
from relayops.rules.triage import Step, Triage
from relayops.spec.metrics import Role

CODE = "code"  # the structured errors' label of the taxonomy code


class Cardinality(Kind):
    name = "cardinality"
    topic = "structured_errors"

    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        levels = build.spec.thresholds.error_code_cardinality
        limit = levels.max_codes
        codes = sel(build.names.structured_error_code_count, build.match)
        d = build.spec.display_name
        return [
            build.single(
                self,
                f"{d}ErrorCodeCardinalityHigh",
                "info",
                above(codes, limit),
                Distinct(build.events(Role.STRUCTURED_ERRORS), CODE, build.rate_window),
                "distinct structured error codes",
                levels.for_,
                "errors",
                f"{d} is returning many distinct error codes.",
                f"{{{{ $value | humanize }}}} distinct structured error codes for "
                f"{{{{ $labels.action }}}} over the last {build.window} (info above {limit}); "
                "dashboards show only the top codes.",
                "structured_errors",
                level=limit,
            )
        ]

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        known = steps.specs.metric(Role.STRUCTURED_ERRORS).values.get(CODE, ())
        everything = sel(steps.names.structured_error_rate, steps.match)
        out = [
            steps.now("Distinct error codes now", steps.names.structured_error_code_count),
            Step(
                "Every code and source",
                everything.render(),
                "Dashboards show only the top codes; this lists them all.",
            ),
        ]
        if known:
            unknown = Matcher(CODE, "!~", "|".join(known))
            out.append(
                Step(
                    "Codes missing from the metric catalog",
                    Selector(everything.name, (*everything.matchers, unknown)).render(),
                    "New codes are new failure modes or taxonomy drift; add them to service.yaml.",
                )
            )
        return [*out, steps.top_codes()]


KIND = Cardinality()
