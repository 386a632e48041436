"""The metric catalog: every series the adapters and the controller emit, by role."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from relayops.spec.base import LabelName, MetricName, SpecModel

MetricType = Literal["counter", "histogram", "gauge"]


class MetricDef(SpecModel):
    name: MetricName
    type: MetricType
    help: str = Field(min_length=3)
    labels: tuple[LabelName, ...]
    values: dict[LabelName, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Known values of enumerated labels (used by tests, synth and dashboards).",
    )
    buckets: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MetricDef:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels {list(self.labels)} repeat a name; list each label once")
        if "le" in self.labels or "__name__" in self.labels:
            raise ValueError("labels 'le' and '__name__' are reserved by Prometheus; rename them")
        unknown = sorted(set(self.values) - set(self.labels))
        if unknown:
            raise ValueError(
                f"values given for {unknown}, which are not in labels {list(self.labels)}"
            )
        for label, known in self.values.items():
            if not known or len(set(known)) != len(known):
                raise ValueError(f"values.{label} must list distinct values, got {list(known)}")
        if self.type == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r} must end in _total (Prometheus naming)")
        if self.type == "histogram":
            if not self.buckets:
                raise ValueError(f"histogram {self.name!r} needs buckets, e.g. [0.1, 0.5, 1, 5]")
            if any(b <= 0 for b in self.buckets) or list(self.buckets) != sorted(set(self.buckets)):
                raise ValueError(
                    f"buckets of {self.name!r} must be positive and strictly increasing, "
                    f"got {list(self.buckets)}"
                )
        elif self.buckets is not None:
            raise ValueError(f"buckets only apply to histograms; {self.name!r} is a {self.type}")
        return self

    @property
    def base(self) -> str:
        """Name without the counter suffix, as recording rules spell it: action_exec_total ->
        action_exec."""
        return self.name.removesuffix("_total")

    def series(self, suffix: str = "") -> str:
        """Name of an exposed series: the histogram parts take _bucket, _count, _sum."""
        return self.name + suffix


class Role:
    """Catalog keys the model gives meaning to, and what each must look like."""

    REQUESTS = "requests"
    LATENCY = "latency"
    ERRORS = "errors"
    STRUCTURED_ERRORS = "structured_errors"
    CONTROLLER_LAST_SUCCESS = "controller_last_success"
    CONTROLLER_RUNS = "controller_runs"
    CONTROLLER_DECISIONS = "controller_decisions"
    CONTROLLER_PERCENT = "controller_percent"
    CONTROLLER_ERRORS = "controller_errors"
    GATE_FAIL_CLOSED = "gate_fail_closed"


REQUIRED_ROLES: dict[str, tuple[MetricType, frozenset[str], dict[str, frozenset[str]]]] = {
    Role.REQUESTS: (
        "counter",
        frozenset({"provider", "action", "status"}),
        {"status": frozenset({"success", "error"})},
    ),
    Role.LATENCY: ("histogram", frozenset({"provider", "action", "status"}), {}),
    Role.ERRORS: ("counter", frozenset({"provider", "action", "reason"}), {}),
    Role.STRUCTURED_ERRORS: (
        "counter",
        frozenset({"provider", "action", "code", "source"}),
        {"source": frozenset({"validation"})},
    ),
    Role.CONTROLLER_LAST_SUCCESS: ("gauge", frozenset({"provider"}), {}),
    Role.CONTROLLER_RUNS: (
        "counter",
        frozenset({"provider", "status"}),
        {"status": frozenset({"success", "failure"})},
    ),
    Role.CONTROLLER_DECISIONS: ("counter", frozenset({"provider", "result"}), {}),
    Role.CONTROLLER_PERCENT: ("gauge", frozenset({"provider"}), {}),
    Role.CONTROLLER_ERRORS: ("gauge", frozenset({"provider"}), {}),
    Role.GATE_FAIL_CLOSED: ("counter", frozenset({"provider"}), {}),
}


def check_catalog(metrics: dict[str, MetricDef]) -> list[tuple[str, str]]:
    """Problems with the catalog as (field path, message); empty when it fits the roles."""
    problems: list[tuple[str, str]] = []
    for role, (kind, labels, must_have) in REQUIRED_ROLES.items():
        metric = metrics.get(role)
        if metric is None:
            problems.append(
                (f"metrics.{role}", f"missing: the rules need a {kind} for role {role!r}; add it")
            )
            continue
        if metric.type != kind:
            problems.append((f"metrics.{role}.type", f"must be {kind}, got {metric.type}"))
        if set(metric.labels) != labels:
            problems.append(
                (
                    f"metrics.{role}.labels",
                    f"must be exactly {sorted(labels)} (rules aggregate by them), "
                    f"got {sorted(metric.labels)}",
                )
            )
        for label, needed in must_have.items():
            missing = needed - set(metric.values.get(label, ()))
            if missing:
                problems.append(
                    (f"metrics.{role}.values.{label}", f"must include {sorted(missing)}")
                )
    names: dict[str, str] = {}
    for role, metric in sorted(metrics.items()):
        if metric.name in names:
            problems.append(
                (
                    f"metrics.{role}.name",
                    f"{metric.name!r} is also used by metrics.{names[metric.name]}",
                )
            )
        names[metric.name] = role
        if "provider" not in metric.labels:
            problems.append((f"metrics.{role}.labels", "every metric needs a 'provider' label"))
    return problems
