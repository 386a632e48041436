"""Triage PromQL of each alert kind, built from the recorded series the rules write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from relayops.promql import (
    Absent,
    Aggregate,
    Binary,
    Expr,
    Increase,
    Matcher,
    Number,
    Range,
    Selector,
    Time,
)
from relayops.rules.alerts import AlertDef
from relayops.rules.build import div, sel, sum_rate
from relayops.rules.kinds import AlertKind
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.labels import PROVIDER, SEND_KEYS, SLO_LABEL
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.series import QUANTILES, ProviderSeries, quantile_key
from relayops.spec.slo import SLO, BurnTier

HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class Step:
    """One triage step: what to look at, the query, and how to read the answer."""

    title: str
    promql: str
    read: str


class _Queries:
    def __init__(self, specs: SpecSet, spec: ProviderSpec, alert: AlertDef):
        self.specs = specs
        self.spec = spec
        self.alert = alert
        self.names = ProviderSeries(specs.service, spec)
        self.match = spec.selector
        self.by_provider = {PROVIDER: spec.provider}
        self.w = format_duration(specs.service.rate_window)

    def metric(self, role: str) -> str:
        return self.specs.metric(role).name

    # shared steps ---------------------------------------------------------------------------
    def traffic(self) -> Step:
        return Step(
            "Traffic by status",
            sel(self.names.request_rate_by_status, self.match).render(),
            f"Requests/s over {self.w} per status. No traffic gives no ratio, not a healthy "
            "one; a drop to zero next to this alert points at the adapter or its callers.",
        )

    def reasons(self) -> Step:
        return Step(
            "Failures by reason",
            sel(self.names.error_reason_rate, self.match).render(),
            "throttled: the provider rate-limits us; auth: tokens; provider: their side is "
            "failing; internal or policy: our code or configuration.",
        )

    def top_codes(self) -> Step:
        return Step(
            "Top structured error codes",
            sel(self.names.structured_error_top, self.match).render(),
            "The codes callers see. ambiguous_may_have_sent means a retry can send a duplicate.",
        )

    def rollout(self) -> list[Step]:
        decisions = self.metric(Role.CONTROLLER_DECISIONS)
        return [
            Step(
                "Rollout percentage now",
                sel(self.metric(Role.CONTROLLER_PERCENT), self.by_provider).render(),
                "Share of traffic on the new send path of this provider.",
            ),
            Step(
                "Rollout decisions over the last 6h",
                Aggregate(
                    "sum",
                    Increase(Range(sel(decisions, self.by_provider), 6 * HOUR)),
                    ("provider", "result"),
                ).render(),
                "A promote shortly before the alert started makes the rollout the first suspect.",
            ),
        ]

    def all_providers(self, name: str, what: str, **extra: str) -> Step:
        return Step(
            f"{what} on every provider",
            sel(name, extra).render(),
            "Only this provider: its API or our adapter for it. Every provider: something "
            "shared (our service, the network, a deploy).",
        )

    def quantiles(self) -> list[Step]:
        return [
            Step(
                f"{key} send latency",
                sel(self.names.latency_quantile(key, by_status=False), self.match).render(),
                f"Over {self.w}.",
            )
            for key in QUANTILES
        ]

    def quantile_by_status(self) -> Step:
        key = quantile_key(self.spec.thresholds.latency.quantile)
        return Step(
            f"{key} send latency by status",
            sel(self.names.latency_quantile(key, by_status=True), self.match).render(),
            "Slow errors are usually timeouts or retries; slow successes are the provider or "
            "the payload size.",
        )

    # SLO burn -------------------------------------------------------------------------------
    def burn_rate(self, slo: SLO, seconds: int) -> Expr:
        match = {**self.match, SLO_LABEL: slo.name}
        return div(sel(self.names.slo_error_ratio(seconds), match), Number(slo.error_budget))

    def tier(self, slo: SLO, tier: BurnTier) -> list[Step]:
        factor = tier.factor(slo.period)
        return [
            Step(
                f"Burn rate over {format_duration(seconds)}",
                self.burn_rate(slo, seconds).render(),
                f"The tier fires while both windows are above {factor:g}; a burn rate of 1 "
                "spends exactly the budget over the period.",
            )
            for seconds in (tier.long_window, tier.short_window)
        ]

    def burn(self) -> list[Step]:
        slo = self.alert.slo
        match = {**self.match, SLO_LABEL: slo.name}
        steps = [
            Step(
                f"Error budget left over {format_duration(slo.period)}",
                sel(self.names.slo_budget_remaining(slo), match).render(),
                "1 untouched, 0 spent, below 0 overspent. Below 0.25, freeze risky changes.",
            ),
            Step(
                "SLO events/s over 1h",
                sel(self.names.slo_requests(HOUR), match).render(),
                "Low traffic makes ratios jumpy: a few failures out of a few requests burn fast.",
            ),
            Step(
                "Bad events/s over 1h",
                sel(self.names.slo_errors(HOUR), match).render(),
                "The requests that count against the SLO.",
            ),
        ]
        if slo.sli.type == "error_ratio":
            steps += [self.traffic(), self.reasons(), self.top_codes()]
        else:
            steps += [*self.quantiles(), self.quantile_by_status(), self.traffic()]
        steps.append(
            self.all_providers(
                self.names.slo_error_ratio(HOUR), f"{slo.name} error ratio over 1h", slo=slo.name
            )
        )
        return steps + self.rollout()

    # thresholds -----------------------------------------------------------------------------
    def error_ratio(self) -> list[Step]:
        ratio = self.names.outcome_ratio("error")
        return [
            Step("Error ratio now", sel(ratio, self.match).render(), f"Over {self.w}."),
            self.traffic(),
            self.reasons(),
            self.top_codes(),
            self.all_providers(ratio, "Error ratio"),
            *self.rollout(),
        ]

    def latency(self) -> list[Step]:
        key = quantile_key(self.spec.thresholds.latency.quantile)
        steps = [*self.quantiles(), self.quantile_by_status(), self.traffic()]
        for signal in self.spec.signals:
            if signal.alert is None or signal.alert.kind != "quantile_above":
                continue
            q = quantile_key(signal.alert.quantile)
            steps.append(
                Step(
                    f"{signal.name} {q}",
                    sel(self.names.signal_quantile(signal, q), self.match).render(),
                    "Time spent before the provider is called: high here means our side is slow.",
                )
            )
        steps += [
            self.reasons(),
            self.all_providers(self.names.latency_quantile(key, by_status=False), f"{key} latency"),
        ]
        return steps + self.rollout()

    def validation(self) -> list[Step]:
        return [
            Step(
                "Validation rejections as a share of traffic",
                sel(self.names.structured_source_ratio("validation"), self.match).render(),
                f"Over {self.w}.",
            ),
            Step(
                "Validation rejections by code",
                sel(self.names.structured_error_rate, self.match, source="validation").render(),
                "One code dominating usually means one caller or one new rule.",
            ),
            self.traffic(),
            *self.rollout(),
        ]

    # operations -----------------------------------------------------------------------------
    def missing(self) -> list[Step]:
        requests = self.metric(Role.REQUESTS)
        return [
            Step(
                "Confirm the series is absent",
                Absent(sel(requests, self.match)).render(),
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
                    "count", Increase(Range(sel(requests, self.match), DAY)), ("job", "instance")
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
                sel(self.names.request_rate, self.match).render(),
                "Empty too: every SLO and threshold alert of this provider is blind.",
            ),
        ]

    def controller_age(self) -> Step:
        last = self.metric(Role.CONTROLLER_LAST_SUCCESS)
        return Step(
            "Seconds since the last successful controller run",
            Binary(
                "-", Time(), Aggregate("max", sel(last, self.by_provider), ("provider",))
            ).render(),
            "Empty: the controller never reported for this provider.",
        )

    def controller_runs(self) -> Step:
        runs = self.metric(Role.CONTROLLER_RUNS)
        return Step(
            "Controller runs by status over the last hour",
            Aggregate(
                "sum", Increase(Range(sel(runs, self.by_provider), HOUR)), ("provider", "status")
            ).render(),
            "No runs at all: its schedule is not starting it. Failed runs: read its log.",
        )

    def stalled(self) -> list[Step]:
        return [self.controller_age(), self.controller_runs(), *self.rollout()]

    def controller_failing(self) -> list[Step]:
        runs = self.metric(Role.CONTROLLER_RUNS)
        window = self.spec.thresholds.controller_failing.window
        failures = div(
            sum_rate(sel(runs, self.by_provider, status="failure"), window, ("provider",)),
            sum_rate(sel(runs, self.by_provider), window, ("provider",)),
        )
        return [
            Step(
                f"Failed share of controller runs over {format_duration(window)}",
                failures.render(),
                "The quantity the alert compares with its level.",
            ),
            self.controller_runs(),
            self.controller_age(),
            *self.rollout(),
        ]

    def cardinality(self) -> list[Step]:
        known = self.specs.metric(Role.STRUCTURED_ERRORS).values.get("code", ())
        everything = sel(self.names.structured_error_rate, self.match)
        steps = [
            Step(
                "Distinct error codes now",
                sel(self.names.structured_error_code_count, self.match).render(),
                f"Over {self.w}.",
            ),
            Step(
                "Every code and source",
                everything.render(),
                "Dashboards show only the top codes; this lists them all.",
            ),
        ]
        if known:
            unknown = Matcher("code", "!~", "|".join(known))
            steps.append(
                Step(
                    "Codes missing from the metric catalog",
                    Selector(everything.name, (*everything.matchers, unknown)).render(),
                    "New codes are new failure modes or taxonomy drift; add them to service.yaml.",
                )
            )
        return [*steps, self.top_codes()]

    # signals --------------------------------------------------------------------------------
    def by_label(self) -> list[Step]:
        signal = self.alert.signal
        metric = self.names.signal_metric(signal)
        return [
            Step(
                f"{signal.name} events/s by {label}",
                sel(self.names.signal_rate(signal, label), self.match).render(),
                f"Known values: {', '.join(values)}.",
            )
            for label, values in metric.values.items()
        ]

    def signal_quantile_above(self) -> list[Step]:
        signal = self.alert.signal
        key = quantile_key(self.spec.thresholds.latency.quantile)
        return [
            *(
                Step(
                    f"{signal.name} {q}",
                    sel(self.names.signal_quantile(signal, q), self.match).render(),
                    f"Over {self.w}.",
                )
                for q in QUANTILES
            ),
            Step(
                f"{signal.name} events/s",
                sel(self.names.signal_buckets(signal), self.match, le="+Inf").render(),
                "The alert is judged only above its minimum event rate.",
            ),
            Step(
                f"{key} send latency",
                sel(self.names.latency_quantile(key, by_status=False), self.match).render(),
                "Whether the slow step already shows in what callers wait for.",
            ),
            self.traffic(),
            *self.rollout(),
        ]

    def signal_per_request_above(self) -> list[Step]:
        signal = self.alert.signal
        return [
            Step(
                f"{signal.name} events per request",
                sel(self.names.signal_per_request(signal), self.match).render(),
                f"Over {self.w}.",
            ),
            *self.by_label(),
            self.traffic(),
            *self.rollout(),
        ]

    def signal_ratio_above(self) -> list[Step]:
        signal = self.alert.signal
        numerator = signal.alert.numerator
        return [
            Step(
                f"{signal.name} {'/'.join(numerator)} ratio",
                sel(self.names.signal_ratio(signal, numerator), self.match).render(),
                f"Over {self.w}.",
            ),
            *self.by_label(),
            self.traffic(),
            self.reasons(),
            *self.rollout(),
        ]


_BY_KIND: dict[AlertKind, Callable[[_Queries], list[Step]]] = {
    AlertKind.BURN: _Queries.burn,
    AlertKind.ERROR_RATIO: _Queries.error_ratio,
    AlertKind.LATENCY: _Queries.latency,
    AlertKind.VALIDATION: _Queries.validation,
    AlertKind.MISSING: _Queries.missing,
    AlertKind.STALLED: _Queries.stalled,
    AlertKind.CONTROLLER_FAILING: _Queries.controller_failing,
    AlertKind.CARDINALITY: _Queries.cardinality,
    AlertKind.SIGNAL_QUANTILE_ABOVE: _Queries.signal_quantile_above,
    AlertKind.SIGNAL_PER_REQUEST_ABOVE: _Queries.signal_per_request_above,
    AlertKind.SIGNAL_RATIO_ABOVE: _Queries.signal_ratio_above,
}
KINDS = tuple(_BY_KIND)


def triage_steps(specs: SpecSet, spec: ProviderSpec, alert: AlertDef) -> list[Step]:
    """The triage queries of an alert's kind, in the order an on-call engineer runs them."""
    if alert.kind not in _BY_KIND:
        raise KeyError(f"no runbook triage for alert kind {alert.kind!r}; add it to {__name__}")
    return _BY_KIND[alert.kind](_Queries(specs, spec, alert))


def tier_steps(specs: SpecSet, spec: ProviderSpec, alert: AlertDef) -> list[Step]:
    """The burn-rate pair (long and short window) of a burn tier."""
    return _Queries(specs, spec, alert).tier(alert.slo, alert.tier)
