"""Triage queries a runbook shows, built from the recorded series the rules write: the steps
every kind shares (traffic, failure reasons, the rollout, quantiles …). Each kind picks its
steps and adds its own in its module."""

from __future__ import annotations

from dataclasses import dataclass

from relayops.promql import Aggregate, Binary, Expr, Increase, Range, Time
from relayops.rules.build import sel
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.labels import PROVIDER
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.series import QUANTILES, ProviderSeries, quantile_key
from relayops.spec.signals import Signal

HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class Step:
    """One triage step: what to look at, the query, and how to read the answer."""

    title: str
    promql: str
    read: str


def success_age(last_success: str, provider: str) -> Expr:
    """Seconds since the newest last-success timestamp of the provider's controller."""
    newest = Aggregate("max", sel(last_success, {PROVIDER: provider}), (PROVIDER,))
    return Binary("-", Time(), newest)


class Triage:
    """The shared triage steps of one provider."""

    def __init__(self, specs: SpecSet, spec: ProviderSpec):
        self.specs = specs
        self.spec = spec
        self.names = ProviderSeries(specs.service, spec)
        self.match = spec.selector
        self.by_provider = {PROVIDER: spec.provider}
        self.w = format_duration(specs.service.rate_window)

    def metric(self, role: str) -> str:
        return self.specs.metric(role).name

    def now(self, title: str, series: str, **extra: str) -> Step:
        """A recorded series of this provider, over the rate window."""
        return Step(title, sel(series, self.match, **extra).render(), f"Over {self.w}.")

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

    def by_label(self, signal: Signal) -> list[Step]:
        metric = self.names.signal_metric(signal)
        return [
            Step(
                f"{signal.name} events/s by {label}",
                sel(self.names.signal_rate(signal, label), self.match).render(),
                f"Known values: {', '.join(values)}.",
            )
            for label, values in metric.values.items()
        ]

    def controller_age(self) -> Step:
        return Step(
            "Seconds since the last successful controller run",
            success_age(self.metric(Role.CONTROLLER_LAST_SUCCESS), self.spec.provider).render(),
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
