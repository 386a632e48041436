"""Names of every recorded series, derived from the spec (`level:metric:operations`).

Renderers, dashboards, the controller and tests read names from here; nobody spells them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from relayops.spec.durations import format_duration
from relayops.spec.labels import SEND_KEYS
from relayops.spec.metrics import MetricDef, Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.service import ServiceSpec
from relayops.spec.signals import Signal
from relayops.spec.slo import SLO

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
TOP_CODES = 5


def quantile_key(q: float) -> str:
    return next(key for key, value in QUANTILES.items() if value == q)


def level(labels: tuple[str, ...] | list[str]) -> str:
    return "_".join(labels)


@dataclass(frozen=True)
class ProviderSeries:
    service: ServiceSpec
    spec: ProviderSpec

    @property
    def window(self) -> str:
        return format_duration(self.service.rate_window)

    @property
    def agg(self) -> tuple[str, str]:
        return SEND_KEYS

    def _metric(self, role: str) -> MetricDef:
        return self.service.metrics[role]

    def _name(self, extra: tuple[str, ...], metric: str, operation: str) -> str:
        return f"{level(self.agg + extra)}:{metric}:{operation}"

    # send path -------------------------------------------------------------------------------
    @property
    def request_rate(self) -> str:
        return self._name((), self._metric(Role.REQUESTS).base, f"rate{self.window}")

    @property
    def request_rate_by_status(self) -> str:
        return self._name(("status",), self._metric(Role.REQUESTS).base, f"rate{self.window}")

    def outcome_rate(self, outcome: str) -> str:
        return self._name((), f"{self._metric(Role.REQUESTS).base}_{outcome}", f"rate{self.window}")

    def outcome_ratio(self, outcome: str) -> str:
        base = self._metric(Role.REQUESTS).base
        return self._name((), f"{base}_{outcome}", f"ratio_rate{self.window}")

    def latency_buckets(self, by_status: bool) -> str:
        extra = ("status", "le") if by_status else ("le",)
        return self._name(extra, self._metric(Role.LATENCY).name + "_bucket", f"rate{self.window}")

    def latency_quantile(self, key: str, by_status: bool) -> str:
        extra = ("status",) if by_status else ()
        return self._name(extra, self._metric(Role.LATENCY).name, f"{key}_rate{self.window}")

    @property
    def error_reason_rate(self) -> str:
        return self._name(("reason",), self._metric(Role.ERRORS).base, f"rate{self.window}")

    @property
    def structured_error_rate(self) -> str:
        base = self._metric(Role.STRUCTURED_ERRORS).base
        return self._name(("code", "source"), base, f"rate{self.window}")

    @property
    def structured_error_top(self) -> str:
        base = self._metric(Role.STRUCTURED_ERRORS).base
        return self._name(("code", "source"), base, f"top{TOP_CODES}_rate{self.window}")

    @property
    def structured_error_code_count(self) -> str:
        base = self._metric(Role.STRUCTURED_ERRORS).base
        return self._name((), f"{base}_codes", f"count_rate{self.window}")

    def structured_source_rate(self, source: str) -> str:
        base = self._metric(Role.STRUCTURED_ERRORS).base
        return self._name((), f"{base}_{source}", f"rate{self.window}")

    def structured_source_ratio(self, source: str) -> str:
        base = self._metric(Role.STRUCTURED_ERRORS).base
        return self._name((), f"{base}_{source}", f"ratio_rate{self.window}")

    # SLOs (label slo="<name>") -----------------------------------------------------------------
    def slo_errors(self, seconds: int) -> str:
        return self._name((), "slo_errors", f"rate{format_duration(seconds)}")

    def slo_requests(self, seconds: int) -> str:
        return self._name((), "slo_requests", f"rate{format_duration(seconds)}")

    def slo_errors_increase(self, seconds: int) -> str:
        """Bad events counted in one tile of the period sum (see relayops.rules.recording)."""
        return self._name((), "slo_errors", f"increase{format_duration(seconds)}")

    def slo_requests_increase(self, seconds: int) -> str:
        return self._name((), "slo_requests", f"increase{format_duration(seconds)}")

    def slo_error_ratio(self, seconds: int) -> str:
        return self._name((), "slo_errors", f"ratio_rate{format_duration(seconds)}")

    def slo_budget_remaining(self, slo: SLO) -> str:
        return self._name((), "slo_error_budget", f"ratio_remaining{format_duration(slo.period)}")

    @property
    def slo_objective(self) -> str:
        return self._name((), "slo_objective", "ratio")

    # signals ------------------------------------------------------------------------------------
    def signal_metric(self, signal: Signal) -> MetricDef:
        return self.service.metrics[signal.metric]

    def signal_buckets(self, signal: Signal) -> str:
        metric = self.signal_metric(signal)
        return self._name(("le",), metric.name + "_bucket", f"rate{self.window}")

    def signal_quantile(self, signal: Signal, key: str) -> str:
        return self._name((), self.signal_metric(signal).name, f"{key}_rate{self.window}")

    def signal_rate(self, signal: Signal, by: str | None = None) -> str:
        extra = (by,) if by else ()
        return self._name(extra, self.signal_metric(signal).base, f"rate{self.window}")

    def signal_per_request(self, signal: Signal) -> str:
        base = self.signal_metric(signal).base
        return self._name((), f"{base}_per_request", f"ratio_rate{self.window}")

    def signal_ratio(self, signal: Signal, values: tuple[str, ...]) -> str:
        base = self.signal_metric(signal).base
        return self._name((), f"{base}_{'_'.join(values)}", f"ratio_rate{self.window}")
