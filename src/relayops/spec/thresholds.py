"""Threshold and operational alert settings of a provider, with the old system's defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from relayops.spec.base import SpecModel
from relayops.spec.durations import Duration, parse_duration


class Levels(SpecModel):
    """A quantity with a warning and/or critical level; fires after `for` above the level."""

    warning: float | None = Field(default=None, gt=0)
    critical: float | None = Field(default=None, gt=0)
    for_: Duration = Field(alias="for")

    @model_validator(mode="after")
    def _ordered(self) -> Levels:
        if self.warning is None and self.critical is None:
            raise ValueError("set warning, critical or both")
        if self.warning is not None and self.critical is not None and self.warning >= self.critical:
            raise ValueError(
                f"warning ({self.warning}) must be below critical ({self.critical}); swap them"
            )
        return self

    def levels(self) -> list[tuple[str, float]]:
        """(severity, level) pairs, warning first."""
        pairs = [("warning", self.warning), ("critical", self.critical)]
        return [(sev, value) for sev, value in pairs if value is not None]


class TrafficGuarded(Levels):
    min_request_rate: float = Field(
        default=0.1, ge=0, description="Requests per second below which the alert stays silent."
    )


class LatencyLevels(TrafficGuarded):
    quantile: Literal[0.5, 0.95, 0.99] = 0.95


class MetricsMissing(SpecModel):
    severity: Literal["critical", "warning"] = "critical"
    for_: Duration = Field(default=parse_duration("5m"), alias="for")


class ControllerStalled(SpecModel):
    max_age: Duration = Field(default=parse_duration("30m"))
    for_: Duration = Field(default=parse_duration("5m"), alias="for")


class ControllerFailing(SpecModel):
    failure_ratio: float = Field(default=0.5, gt=0, le=1)
    window: Duration = Field(default=parse_duration("30m"))
    for_: Duration = Field(default=parse_duration("15m"), alias="for")


class CodeCardinality(SpecModel):
    max_codes: int = Field(default=5, ge=1)
    for_: Duration = Field(default=parse_duration("30m"), alias="for")


def _levels(model: type, **values: object):
    return Field(default_factory=lambda: model.model_validate(values))


class Thresholds(SpecModel):
    error_ratio: TrafficGuarded = _levels(
        TrafficGuarded, warning=0.01, critical=0.05, min_request_rate=0.1, **{"for": "5m"}
    )
    latency: LatencyLevels = _levels(
        LatencyLevels, warning=0.5, critical=2.0, min_request_rate=0.1, **{"for": "10m"}
    )
    validation_error_ratio: TrafficGuarded = _levels(
        TrafficGuarded, warning=0.10, min_request_rate=0.1, **{"for": "10m"}
    )
    metrics_missing: MetricsMissing = Field(default_factory=MetricsMissing)
    controller_stalled: ControllerStalled = Field(default_factory=ControllerStalled)
    controller_failing: ControllerFailing = Field(default_factory=ControllerFailing)
    error_code_cardinality: CodeCardinality = Field(default_factory=CodeCardinality)
