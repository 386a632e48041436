"""Alerting rules of one provider: SLO burn tiers, thresholds, operations, signals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from relayops.promql import Absent, Aggregate, Binary, Expr, Number, Time
from relayops.promql.simulate import AlertRule
from relayops.rules.build import Group, above, div, guarded, sel, sum_rate
from relayops.rules.kinds import AlertKind, RuleGroup
from relayops.rules.measure import (
    Absence,
    Age,
    BudgetBurn,
    Distinct,
    Events,
    Measure,
    Quantile,
    Share,
)
from relayops.spec import SpecSet
from relayops.spec.base import camel
from relayops.spec.durations import format_duration
from relayops.spec.labels import (
    ALERTNAME,
    BURN_TIER,
    COMPONENT,
    PROVIDER,
    SEND_KEYS,
    SERVICE,
    SEVERITY,
    SLO_LABEL,
    TEAM,
)
from relayops.spec.links import dashboard_url, runbook_url
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.series import ProviderSeries, quantile_key
from relayops.spec.signals import ALERT_SUFFIX, Signal
from relayops.spec.slo import SLO, BurnTier
from relayops.spec.units import percent as pct
from relayops.spec.units import seconds as secs


def level_text(alert: AlertDef) -> str:
    """An alert's level in its quantity's own unit: 1%, 500ms, 30m, 0.5."""
    return alert.kind.unit.text(alert.level)


@dataclass(frozen=True)
class AlertDef:
    """A rendered alert and what the test generator needs to drive it."""

    rule: AlertRule
    kind: AlertKind
    severity: str
    measure: Measure
    what: str  # the measure in words, for runbooks: "error ratio", "p95 latency"
    level: float | None = None
    guard: float | None = None  # judged only while `guarded_by` happen faster (per second)
    guarded_by: Events | None = None
    signal: Signal | None = None

    @property
    def name(self) -> str:
        return self.rule.alert

    @property
    def slo(self) -> SLO | None:
        return self.measure.slo if isinstance(self.measure, BudgetBurn) else None

    @property
    def tier(self) -> BurnTier | None:
        return self.measure.tier if isinstance(self.measure, BudgetBurn) else None

    @property
    def reads_pushed_data(self) -> bool:
        """Whether the condition is on pushed values, whose age a drill can measure: not on
        their absence, nor on time() against a pushed timestamp."""
        return not isinstance(self.measure, Absence | Age)

    @property
    def ref(self) -> str:
        """The alert's identity, as `alert_ref` reads it from a firing alert's labels."""
        return alert_ref({ALERTNAME: self.name, **self.rule.labels})

    @property
    def anchor(self) -> str:
        """The section of the runbook this alert links to (the fragment of its runbook_url)."""
        return self.rule.annotations["runbook_url"].partition("#")[2]


@dataclass(frozen=True)
class Guard:
    """A leveled alert is judged only while these events happen faster than `level` per
    second: `expr` is their recorded rate."""

    expr: Expr
    events: Events
    level: float


@dataclass(frozen=True)
class Reading:
    """What a leveled alert compares with its levels: the recorded series (`expr`), what it
    means in raw metrics (`measure`) and in words (`what`), and its traffic guard."""

    expr: Expr
    measure: Measure
    what: str
    guard: Guard | None = None


def alert_ref(labels: Mapping[str, str]) -> str:
    """An alert's identity: `Name/burn_tier` for a burn-rate tier, `Name/severity` otherwise,
    from the labels Prometheus and Alertmanager give it (the README's inhibition matrix, the
    drills and the observation report all name alerts this way)."""
    return f"{labels.get(ALERTNAME)}/{labels.get(BURN_TIER) or labels.get(SEVERITY)}"


class _Builder:
    def __init__(self, specs: SpecSet, spec: ProviderSpec):
        self.specs = specs
        self.spec = spec
        self.names = ProviderSeries(specs.service, spec)
        self.window = format_duration(specs.service.rate_window)
        self.match = spec.selector

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

    def annotations(
        self, name: str, summary: str, description: str, dashboard: str, **variables: str
    ) -> dict[str, str]:
        service = self.specs.service
        return {
            "summary": summary,
            "description": description,
            "dashboard_url": dashboard_url(
                service, dashboard, provider=self.spec.provider, **variables
            ),
        }

    def rule(
        self, name: str, expr: Expr, for_: int, labels: dict[str, str], annotations: dict[str, str]
    ) -> AlertRule:
        """The rule, with its runbook link pointing at the section for its tier or severity."""
        anchor = labels.get(BURN_TIER, labels[SEVERITY])
        notes = {
            "summary": annotations["summary"],
            "description": annotations["description"],
            "runbook_url": runbook_url(self.specs.service, name, anchor),
            "dashboard_url": annotations["dashboard_url"],
        }
        return AlertRule(alert=name, expr=expr, for_seconds=for_, labels=labels, annotations=notes)

    # SLO burn tiers ---------------------------------------------------------------------------
    def burn(self, slo: SLO, tier: BurnTier) -> AlertDef:
        name = f"{self.spec.display_name}{camel(slo.name)}BudgetBurn"
        factor = tier.factor(slo.period)
        match = {**self.match, SLO_LABEL: slo.name}

        def burn_rate(seconds: int) -> Expr:
            return div(sel(self.names.slo_error_ratio(seconds), match), Number(slo.error_budget))

        def events(name: str, seconds: int) -> Expr:
            return Binary("*", sel(name, match), Number(seconds))

        def burning(seconds: int, level: float) -> Expr:
            """Burn above `level` over the window, or no request in it: at low traffic a short
            window is often empty, which is no sign of recovery."""
            idle = above(sel(self.names.slo_requests(seconds), match), 0, "==")
            return Binary("or", above(burn_rate(seconds), level), idle, on=on)

        on = (*SEND_KEYS, "slo")
        long_w, short_w = tier.long_window, tier.short_window
        condition = guarded(above(burn_rate(long_w), factor), burning(short_w, factor), on)
        if slo.checks_now(tier):
            condition = guarded(condition, burning(slo.now_window, 1), on)
        near_total = guarded(
            above(events(self.names.slo_errors(long_w), long_w), tier.min_bad_events, ">="),
            above(sel(self.names.slo_error_ratio(long_w), match), tier.low_traffic_bad_share, ">="),
            on,
        )
        enough = Binary(
            "or",
            above(events(self.names.slo_requests(long_w), long_w), tier.min_events, ">="),
            near_total,
            on=on,
        )
        expr = guarded(condition, enough, on)
        now_text = (
            f", and the budget burning over the last {format_duration(slo.now_window)} too"
            if slo.checks_now(tier)
            else ""
        )
        long_w, short_w = format_duration(tier.long_window), format_duration(tier.short_window)
        period = format_duration(slo.period)
        summary = (
            f"{self.spec.display_name} {slo.name} SLO is burning its error budget "
            f"over {factor:g}× too fast."
        )
        description = (
            f"{{{{ $labels.action }}}}: bad events over the last {long_w} are "
            f"{{{{ $value | humanize }}}}× the rate the {period} error budget allows "
            f"(objective {pct(slo.objective)}; this {tier.name} tier fires above {factor:g}× over "
            f"both {long_w} and {short_w} (an empty {short_w} counts as still failing), with at "
            f"least {tier.min_events} requests in {long_w} or, below that, at least "
            f"{tier.min_bad_events} bad events making up {pct(tier.low_traffic_bad_share)} of them"
            f"{now_text}, and means {pct(tier.budget_consumed)} of the budget is gone)."
        )
        labels = self.labels(tier.severity, "slo", slo=slo.name, burn_tier=tier.name)
        annotations = self.annotations(name, summary, description, "slo", slo=slo.name)
        return AlertDef(
            self.rule(name, expr, tier.for_, labels, annotations),
            AlertKind.BURN,
            tier.severity,
            BudgetBurn(slo, tier),
            f"{slo.name} budget burn",
            level=factor,
            guard=tier.min_events,
        )

    # thresholds -------------------------------------------------------------------------------
    def events(self, role: str, **where: str | tuple[str, ...]) -> Events:
        return Events.of(self.specs.metric(role), **where)

    def _leveled(
        self,
        name: str,
        kind: AlertKind,
        reading: Reading,
        levels,
        component: str,
        summary: str,
        describe,
        dashboard: str = "overview",
    ) -> list[AlertDef]:
        alerts = []
        for severity, level in levels.levels():
            condition = above(reading.expr, level)
            guard = reading.guard
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
                self.annotations(name, summary, describe(severity, level), dashboard),
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

    def thresholds(self) -> list[AlertDef]:
        t = self.spec.thresholds
        d = self.spec.display_name
        requests = self.events(Role.REQUESTS)
        request_rate = sel(self.names.request_rate, self.match)
        w = self.window
        window = self.specs.service.rate_window
        error_ratio = Reading(
            sel(self.names.outcome_ratio("error"), self.match),
            Share(self.events(Role.REQUESTS, status="error"), requests, window),
            "error ratio",
            Guard(request_rate, requests, t.error_ratio.min_request_rate),
        )
        alerts = self._leveled(
            f"{d}ErrorRatioHigh",
            AlertKind.ERROR_RATIO,
            error_ratio,
            t.error_ratio,
            "send_path",
            f"{d} send requests are failing.",
            lambda sev, lvl: (
                f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.action }}}} requests "
                f"failed over the last {w} ({sev} above {pct(lvl)}, judged only above "
                f"{t.error_ratio.min_request_rate:g} req/s)."
            ),
        )
        key = quantile_key(t.latency.quantile)
        latency = Reading(
            sel(self.names.latency_quantile(key, by_status=False), self.match),
            Quantile(self.specs.metric(Role.LATENCY), t.latency.quantile, window),
            f"{key} latency",
            Guard(request_rate, requests, t.latency.min_request_rate),
        )
        alerts += self._leveled(
            f"{d}LatencyHigh",
            AlertKind.LATENCY,
            latency,
            t.latency,
            "send_path",
            f"{d} send requests are slow.",
            lambda sev, lvl: (
                f"{key} latency of {{{{ $labels.action }}}} over the last {w} is "
                f"{{{{ $value | humanizeDuration }}}} ({sev} above {secs(lvl)}, judged only above "
                f"{t.latency.min_request_rate:g} req/s)."
            ),
        )
        validation = Reading(
            sel(self.names.structured_source_ratio("validation"), self.match),
            Share(self.events(Role.STRUCTURED_ERRORS, source="validation"), requests, window),
            "share of requests rejected by validation",
            Guard(request_rate, requests, t.validation_error_ratio.min_request_rate),
        )
        alerts += self._leveled(
            f"{d}ValidationErrorSpike",
            AlertKind.VALIDATION,
            validation,
            t.validation_error_ratio,
            "validation",
            f"{d} requests are failing validation.",
            lambda sev, lvl: (
                f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.action }}}} requests were "
                f"rejected by validation over the last {w} ({sev} above {pct(lvl)} of traffic)."
            ),
        )
        return alerts

    # operations -------------------------------------------------------------------------------
    def single(
        self,
        name: str,
        kind: AlertKind,
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
            name,
            expr,
            for_,
            self.labels(severity, component),
            self.annotations(name, summary, description, dashboard),
        )
        return AlertDef(rule, kind, severity, measure, what, level=level)

    def operations(self) -> list[AlertDef]:
        t = self.spec.thresholds
        d = self.spec.display_name
        requests = self.specs.metric(Role.REQUESTS)
        by_provider = ("provider",)
        provider_match = {PROVIDER: self.spec.provider}
        last = self.specs.metric(Role.CONTROLLER_LAST_SUCCESS)
        age = Binary("-", Time(), Aggregate("max", sel(last.name, provider_match), by_provider))
        runs = self.specs.metric(Role.CONTROLLER_RUNS)
        cw = t.controller_failing.window
        failures = div(
            sum_rate(sel(runs.name, provider_match, status="failure"), cw, by_provider),
            sum_rate(sel(runs.name, provider_match), cw, by_provider),
        )
        codes = sel(self.names.structured_error_code_count, self.match)
        limit = t.error_code_cardinality.max_codes
        return [
            self.single(
                f"{d}MetricsMissing",
                AlertKind.MISSING,
                t.metrics_missing.severity,
                Absent(sel(requests.name, self.match)),
                Absence(requests),
                "request series",
                t.metrics_missing.for_,
                "telemetry",
                f"{d} send-path metrics are missing.",
                f"No {requests.name} series for {{{{ $labels.action }}}} on "
                f"{{{{ $labels.provider }}}} for {format_duration(t.metrics_missing.for_)}: "
                "the adapter is down or not scraped, and every SLO alert of this provider is "
                "blind.",
                "overview",
            ),
            self.single(
                f"{d}RolloutControllerStalled",
                AlertKind.STALLED,
                "warning",
                above(age, t.controller_stalled.max_age),
                Age(last),
                "time since the controller's last successful run",
                t.controller_stalled.for_,
                "controller",
                f"{d} rollout controller has not succeeded recently.",
                f"The rollout controller last succeeded for {{{{ $labels.provider }}}} "
                f"{{{{ $value | humanizeDuration }}}} ago (warning above "
                f"{format_duration(t.controller_stalled.max_age)}); the rollout percentage is "
                "frozen.",
                "controller",
                level=t.controller_stalled.max_age,
            ),
            self.single(
                f"{d}RolloutControllerFailing",
                AlertKind.CONTROLLER_FAILING,
                "warning",
                above(failures, t.controller_failing.failure_ratio),
                Share(Events.of(runs, status="failure"), Events.of(runs), cw),
                "failed share of controller runs",
                t.controller_failing.for_,
                "controller",
                f"{d} rollout controller runs are failing.",
                f"{{{{ $value | humanizePercentage }}}} of rollout controller runs for "
                f"{{{{ $labels.provider }}}} failed over the last {format_duration(cw)} "
                f"(warning above {pct(t.controller_failing.failure_ratio)}).",
                "controller",
                level=t.controller_failing.failure_ratio,
            ),
            self.single(
                f"{d}ErrorCodeCardinalityHigh",
                AlertKind.CARDINALITY,
                "info",
                above(codes, limit),
                Distinct(
                    self.events(Role.STRUCTURED_ERRORS), "code", self.specs.service.rate_window
                ),
                "distinct structured error codes",
                t.error_code_cardinality.for_,
                "errors",
                f"{d} is returning many distinct error codes.",
                f"{{{{ $value | humanize }}}} distinct structured error codes for "
                f"{{{{ $labels.action }}}} over the last {self.window} (info above {limit}); "
                "dashboards show only the top codes.",
                "structured_errors",
                level=limit,
            ),
        ]

    # signals ----------------------------------------------------------------------------------
    def signal(self, signal: Signal) -> list[AlertDef]:
        alert = signal.alert
        if alert is None:
            return []
        d = self.spec.display_name
        name = f"{d}{camel(signal.name)}{ALERT_SUFFIX[alert.kind]}"
        w = self.window
        window = self.specs.service.rate_window
        metric = self.names.signal_metric(signal)
        if alert.kind == "quantile_above":
            key = quantile_key(alert.quantile)
            reading = Reading(
                sel(self.names.signal_quantile(signal, key), self.match),
                Quantile(metric, alert.quantile, window),
                f"{signal.name} {key}",
                Guard(
                    sel(self.names.signal_buckets(signal), self.match, le="+Inf"),
                    Events.of(metric),
                    alert.min_event_rate,
                ),
            )
            summary = f"{d} {signal.name.replace('_', ' ')} is slow."
            text = (
                f"{key} of {metric.name} for {{{{ $labels.action }}}} over the last {w} is "
                f"{{{{ $value | humanizeDuration }}}}"
            )
            describe = lambda sev, lvl: f"{text} ({sev} above {secs(lvl)})."  # noqa: E731
        elif alert.kind == "per_request_above":
            requests = self.events(Role.REQUESTS)
            reading = Reading(
                sel(self.names.signal_per_request(signal), self.match),
                Share(Events.of(metric), requests, window),
                f"{signal.name} events per request",
                Guard(sel(self.names.request_rate, self.match), requests, alert.min_request_rate),
            )
            summary = f"{d} {signal.name.replace('_', ' ')} events per request spiked."
            text = (
                f"{signal.summary.rstrip('.')}: {{{{ $value | humanize }}}} per request of "
                f"{{{{ $labels.action }}}} over the last {w}"
            )
            describe = lambda sev, lvl: f"{text} ({sev} above {lvl:g})."  # noqa: E731
        else:
            by_label = self.names.signal_rate(signal, alert.label)
            base = {alert.label: "|".join(alert.denominator)} if alert.denominator else {}
            denominator = (
                Events.of(metric, **{alert.label: alert.denominator})
                if alert.denominator
                else Events.of(metric)
            )
            reading = Reading(
                sel(self.names.signal_ratio(signal, alert.numerator), self.match),
                Share(Events.of(metric, **{alert.label: alert.numerator}), denominator, window),
                f"{signal.name} {'/'.join(alert.numerator)} share",
                Guard(
                    Aggregate("sum", sel(by_label, self.match, **base), SEND_KEYS)
                    if base
                    else sel(self.names.signal_rate(signal), self.match),
                    denominator,
                    alert.min_denominator_rate,
                ),
            )
            summary = f"{d} {signal.name.replace('_', ' ')} are failing."
            text = (
                f"{signal.summary.rstrip('.')}: {{{{ $value | humanizePercentage }}}} over "
                f"the last {w} for {{{{ $labels.action }}}}"
            )
            describe = lambda sev, lvl: f"{text} ({sev} above {pct(lvl)})."  # noqa: E731
        alerts = self._leveled(
            name,
            AlertKind(f"signal_{alert.kind}"),
            reading,
            alert,
            signal.component,
            summary,
            describe,
        )
        return [replace(a, signal=signal) for a in alerts]


def alert_defs(specs: SpecSet, spec: ProviderSpec) -> list[AlertDef]:
    """Every alert of a provider, in rendering order."""
    builder = _Builder(specs, spec)
    alerts = [builder.burn(slo, tier) for slo in spec.slos for tier in slo.tiers]
    alerts += builder.thresholds()
    alerts += builder.operations()
    for signal in spec.signals:
        alerts += builder.signal(signal)
    return alerts


def alert_groups(specs: SpecSet, spec: ProviderSpec) -> list[Group]:
    prefix = f"{specs.service.service}-{spec.name}"
    defs = alert_defs(specs, spec)
    return [
        Group(f"{prefix}-{group}.alerts", tuple(a.rule for a in defs if a.kind.group is group))
        for group in (RuleGroup.SLO, RuleGroup.SEND_PATH, RuleGroup.OPERATIONS)
    ]
