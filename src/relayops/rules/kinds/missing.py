"""<Provider>MetricsMissing: no request series of the provider at all, so every SLO alert of it
is blind."""

from __future__ import annotations

from relayops.promql import Absent, Aggregate, Binary, Increase, Number, Range
from relayops.rules.alert_def import AlertDef
from relayops.rules.build import sel
from relayops.rules.builder import AlertBuilder
from relayops.rules.kind import Kind, RuleGroup
from relayops.rules.measure import Absence
from relayops.rules.triage import DAY, Step, Triage
from relayops.spec.durations import format_duration
from relayops.spec.labels import SEND_KEYS
from relayops.spec.metrics import Role


class Missing(Kind):
    name = "missing"
    group = RuleGroup.OPERATIONS

    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        levels = build.spec.thresholds.metrics_missing
        requests = build.specs.metric(Role.REQUESTS)
        d = build.spec.display_name
        return [
            build.single(
                self,
                f"{d}MetricsMissing",
                levels.severity,
                Absent(sel(requests.name, build.match)),
                Absence(requests),
                "request series",
                levels.for_,
                "telemetry",
                f"{d} send-path metrics are missing.",
                f"No {requests.name} series for {{{{ $labels.action }}}} on "
                f"{{{{ $labels.provider }}}} for {format_duration(levels.for_)}: "
                "the adapter is down or not scraped, and every SLO alert of this provider is "
                "blind.",
                "overview",
            )
        ]

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        requests = steps.metric(Role.REQUESTS)
        return [
            Step(
                "Confirm the series is absent",
                Absent(sel(requests, steps.match)).render(),
                "1 means Prometheus has no such series right now.",
            ),
            Step(
                "Which providers still report",
                Aggregate("count", sel(requests), SEND_KEYS).render(),
                "Every provider gone: Prometheus or the shared scrape config. Only this one: "
                "its adapter.",
            ),
            Step(
                "Targets that exposed it during the last day",
                Aggregate(
                    "count", Increase(Range(sel(requests, steps.match), DAY)), ("job", "instance")
                ).render(),
                "The job and instance to look at next.",
            ),
            Step(
                "Scrape targets that are down",
                Binary("==", sel("up"), Number(0)).render(),
                "A target of that job listed here is down or unreachable. Up but no series: the "
                "adapter restarted and has sent nothing yet, or its labels changed.",
            ),
            Step(
                "Recorded request rate",
                sel(steps.names.request_rate, steps.match).render(),
                "Empty too: every SLO and threshold alert of this provider is blind.",
            ),
        ]


KIND = Missing()
