"""What every kind's alerts are made with: labels, annotations and runbook links by the
conventions, one rule per severity of a leveled quantity, and the provider's series names."""

from __future__ import annotations

from collections.abc import Callable

from relayops.promql import Expr
from relayops.promql.simulate import AlertRule
from relayops.rules.alert_def import AlertDef, Guard, Reading
from relayops.rules.build import above, guarded, sel
from relayops.rules.kind import Kind
from relayops.rules.measure import Events, Measure
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.labels import BURN_TIER, COMPONENT, PROVIDER, SEND_KEYS, SERVICE, SEVERITY, TEAM
from relayops.spec.links import dashboard_url, runbook_url
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.series import ProviderSeries
from relayops.spec.thresholds import Levels

Describe = Callable[[str, float], str]  # (severity, level) -> the rule's description


class AlertBuilder:
    """Builds the alerts of one provider."""

    def __init__(self, specs: SpecSet, spec: ProviderSpec):
        self.specs = specs
        self.spec = spec
        self.names = ProviderSeries(specs.service, spec)
        self.rate_window = specs.service.rate_window
        self.window = format_duration(self.rate_window)
        self.match = spec.selector

    def events(self, role: str, **where: str | tuple[str, ...]) -> Events:
        """Events of the metric that plays `role` in the catalog."""
        return Events.of(self.specs.metric(role), **where)

    def request_guard(self, level: float) -> Guard:
        """Judged only while the provider's requests come faster than `level` per second."""
        requests = self.events(Role.REQUESTS)
        return Guard(sel(self.names.request_rate, self.match), requests, level)

    def labels(self, severity: str, component: str, **extra: str) -> dict[str, str]:
        service = self.specs.service
        return {
            SEVERITY: severity,
            SERVICE: service.service,
            PROVIDER: self.spec.provider,
            COMPONENT: component,
            TEAM: service.team,
            **extra,
        }

    def rule(
        self,
        name: str,
        expr: Expr,
        for_: int,
        labels: dict[str, str],
        summary: str,
        description: str,
        dashboard: str,
        **variables: str,
    ) -> AlertRule:
        """The rule, with its runbook link pointing at the section for its tier or severity."""
        service = self.specs.service
        anchor = labels.get(BURN_TIER, labels[SEVERITY])
        notes = {
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(service, name, anchor),
            "dashboard_url": dashboard_url(
                service, dashboard, provider=self.spec.provider, **variables
            ),
        }
        return AlertRule(alert=name, expr=expr, for_seconds=for_, labels=labels, annotations=notes)

    def leveled(
        self,
        kind: Kind,
        name: str,
        reading: Reading,
        levels: Levels,
        component: str,
        summary: str,
        describe: Describe,
        dashboard: str = "overview",
    ) -> list[AlertDef]:
        """One alert per severity the levels set: the reading above the level, while its
        guard's events are frequent enough."""
        alerts = []
        guard = reading.guard
        for severity, level in levels.levels():
            condition = above(reading.expr, level)
            expr = (
                condition
                if guard is None
                else guarded(condition, above(guard.expr, guard.level), SEND_KEYS)
            )
            rule = self.rule(
                name,
                expr,
                levels.for_,
                self.labels(severity, component),
                summary,
                describe(severity, level),
                dashboard,
            )
            alerts.append(
                AlertDef(
                    rule,
                    kind,
                    severity,
                    reading.measure,
                    reading.what,
                    level=level,
                    guard=None if guard is None else guard.level,
                    guarded_by=None if guard is None else guard.events,
                )
            )
        return alerts

    def single(
        self,
        kind: Kind,
        name: str,
        severity: str,
        expr: Expr,
        measure: Measure,
        what: str,
        for_: int,
        component: str,
        summary: str,
        description: str,
        dashboard: str,
        level: float | None = None,
    ) -> AlertDef:
        """An alert with one severity."""
        rule = self.rule(
            name, expr, for_, self.labels(severity, component), summary, description, dashboard
        )
        return AlertDef(rule, kind, severity, measure, what, level=level)
